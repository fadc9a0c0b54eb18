# The Debian package (`make deb`): CPack's DEB generator over the install
# rules, installed under /usr.
#
# Depends: the shared libraries fedc loads (libLLVM, antlr4, fmt,
# protobuf, abseil, libstdc++, ...) come from dpkg-shlibdeps, with versions.
# Programs are linked where fedc runs, so the package also depends on the
# C++ compiler driver fedc calls (g++, which provides c++; it brings libc6-dev
# and libstdc++-dev) and on the packages that provide the pkg-config modules
# libfedrt.link names (their -dev packages, which bring the archives and
# shared libraries a compiled program links) and on lld, the linker it names.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fedc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "fedc developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "compiler and runtime for federated computations (.fed)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # fedc_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

set(FEDC_DEB_DEPENDS g++)
find_program(FEDC_DPKG dpkg)
# Appends to FEDC_DEB_DEPENDS the Debian package that owns `file`.
function(fedc_depend_on_owner file)
  set(owner "")
  if(FEDC_DPKG)
    execute_process(COMMAND ${FEDC_DPKG} -S ${file}
                    OUTPUT_VARIABLE owner ERROR_QUIET
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
  # "libprotobuf-dev:amd64: /usr/lib/.../protobuf.pc"
  string(REGEX REPLACE "^([^:]+).*" "\\1" owner "${owner}")
  if(owner)
    set(FEDC_DEB_DEPENDS ${FEDC_DEB_DEPENDS} ${owner} PARENT_SCOPE)
  elseif(FEDC_DPKG)
    message(WARNING "no Debian package provides ${file}")
  endif()
endfunction()
get_property(FEDC_PKG_MODULES GLOBAL PROPERTY FEDRT_SYSTEM_MODULES)
foreach(module ${FEDC_PKG_MODULES})
  execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --variable=pcfiledir ${module}
                  OUTPUT_VARIABLE pcdir OUTPUT_STRIP_TRAILING_WHITESPACE)
  fedc_depend_on_owner(${pcdir}/${module}.pc)
endforeach()
# Libraries linked by path (no pkg-config module).
get_property(FEDC_SYSTEM_LIBRARIES GLOBAL PROPERTY FEDRT_SYSTEM_LIBRARIES)
foreach(library ${FEDC_SYSTEM_LIBRARIES})
  fedc_depend_on_owner(${library})
endforeach()
# The linker libfedrt.link asks the C++ driver for (lld, runtime/CMakeLists.txt).
get_property(FEDC_LINKER GLOBAL PROPERTY FEDRT_LINKER)
if(FEDC_LINKER)
  fedc_depend_on_owner(${FEDC_LINKER})
endif()
list(REMOVE_DUPLICATES FEDC_DEB_DEPENDS)
list(JOIN FEDC_DEB_DEPENDS ", " CPACK_DEBIAN_PACKAGE_DEPENDS)

set(CPACK_PACKAGE_DESCRIPTION
    "fedc compiles federated computations written with placement types
(TensorFlow Federated's vocabulary) into native programs linked with the
libfedrt runtime, which runs the rounds over many simulated clients.
Includes the standard library, the runtime's static libraries and headers,
the documentation and examples (/usr/share/doc/fedc/examples), and
editor support: `fedc lsp`, a language server, and a TextMate grammar and
VS Code extension (/usr/share/fedc/editors).")
if(NOT FEDC_PORTABLE_RUNTIME)
  string(APPEND CPACK_PACKAGE_DESCRIPTION "
This build's runtime uses the vector units of the machine it was built on
(FEDC_PORTABLE_RUNTIME=OFF).")
endif()
include(CPack)
