#include "driver/Driver.h"

int main(int argc, char **argv) { return fedc::driver::run(argc, argv); }
