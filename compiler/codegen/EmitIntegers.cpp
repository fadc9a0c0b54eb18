// Checked integer arithmetic (docs/language.md, "Integers"): an integer
// result that does not fit its type, a division by zero and INT_MIN / -1
// are run-time errors naming the .fed location, never a wrapped value or
// a SIGFPE. Operations inside loops OR their fault into a flag that
// flushFaults() tests after the loop, so elementwise loops keep
// vectorizing; the checks widen to twice the width, which vector units do
// well.
#include "codegen/Emitter.h"
#include "fedrt/abi.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>

namespace fedc::codegen {

namespace {

bool isSigned(ast::ScalarKind k) { return k != ast::ScalarKind::U8; }

} // namespace

void FunctionEmitter::noteFault(llvm::Value *bad, SourceRange r,
                                const std::string &what) {
  if (auto *c = llvm::dyn_cast<llvm::ConstantInt>(bad); c && c->isZero())
    return; // proven at compile time
  llvm::Value *flag = nullptr;
  for (const PendingFault &f : faults_)
    if (f.range.begin == r.begin && f.range.end == r.end && f.what == what)
      flag = f.flag;
  if (!flag) {
    // In the entry block, cleared once per call: a set flag fails the call
    // at the next flush, so it is never seen set again.
    llvm::BasicBlock &entry = f_->getEntryBlock();
    llvm::IRBuilder<> at(&entry, entry.getFirstInsertionPt());
    flag = at.CreateAlloca(b.getInt1Ty(), nullptr, "fault");
    at.CreateStore(b.getFalse(), flag);
    faults_.push_back(PendingFault{flag, r, what});
  }
  b.CreateStore(b.CreateOr(b.CreateLoad(b.getInt1Ty(), flag), bad), flag);
}

void FunctionEmitter::flushFaults() {
  std::vector<PendingFault> pending;
  pending.swap(faults_);
  for (const PendingFault &f : pending) {
    if (terminated())
      return;
    llvm::Value *bad = b.CreateLoad(b.getInt1Ty(), f.flag);
    check(b.CreateNot(bad), f.range, f.what, i64(FEDRT_NO_VALUES),
          i64(FEDRT_NO_VALUES));
  }
}

llvm::Value *FunctionEmitter::checkedArithmetic(ast::BinaryOp op,
                                                llvm::Value *x, llvm::Value *y,
                                                ast::ScalarKind k,
                                                SourceRange r) {
  auto *t = llvm::cast<llvm::IntegerType>(x->getType());
  unsigned bits = t->getBitWidth();
  bool sign = isSigned(k);
  std::string what = std::string("integer overflow in '") +
                     ast::binaryOpSpelling(op) + "' (" + ast::scalarName(k) +
                     ")";
  llvm::Value *zero = llvm::ConstantInt::get(t, 0);
  if (op == ast::BinaryOp::Add || op == ast::BinaryOp::Sub) {
    // In the type's own width (a widened compare becomes
    // llvm.sadd.with.overflow, which the vectorizer does not handle):
    // signed, the result's sign differs from both operands' (add) or from
    // x's where y's differs from x's (sub), Hacker's Delight 2-13;
    // unsigned, the result wrapped past x.
    bool add = op == ast::BinaryOp::Add;
    llvm::Value *result = add ? b.CreateAdd(x, y) : b.CreateSub(x, y);
    llvm::Value *bad;
    if (sign) {
      llvm::Value *s =
          add ? b.CreateAnd(b.CreateXor(x, result), b.CreateXor(y, result))
              : b.CreateAnd(b.CreateXor(x, y), b.CreateXor(x, result));
      bad = b.CreateICmpSLT(s, zero);
    } else {
      bad = add ? b.CreateICmpULT(result, x) : b.CreateICmpULT(x, y);
    }
    noteFault(bad, r, what);
    return result;
  }
  // Products: exact in twice the width, then compared with the narrow one.
  llvm::Type *wide = b.getIntNTy(2 * bits);
  auto extend = [&](llvm::Value *v) {
    return sign ? b.CreateSExt(v, wide) : b.CreateZExt(v, wide);
  };
  llvm::Value *exact = b.CreateMul(extend(x), extend(y));
  llvm::Value *result = b.CreateTrunc(exact, t);
  noteFault(b.CreateICmpNE(extend(result), exact), r, what);
  return result;
}

llvm::Value *FunctionEmitter::checkedDivision(bool remainder, llvm::Value *x,
                                              llvm::Value *y, ast::ScalarKind k,
                                              SourceRange r) {
  auto *t = llvm::cast<llvm::IntegerType>(x->getType());
  llvm::Value *zero = b.CreateICmpEQ(y, llvm::ConstantInt::get(t, 0));
  noteFault(zero, r,
            remainder ? "integer remainder by zero"
                      : "integer division by zero");
  llvm::Value *unsafe = zero;
  if (isSigned(k)) {
    // INT_MIN / -1 does not fit; INT_MIN % -1 is 0 (x % 1 below).
    llvm::Value *overflow = b.CreateAnd(
        b.CreateICmpEQ(
            x, llvm::ConstantInt::get(
                   t, llvm::APInt::getSignedMinValue(t->getBitWidth()))),
        b.CreateICmpEQ(y, llvm::ConstantInt::getSigned(t, -1)));
    if (!remainder)
      noteFault(overflow, r,
                std::string("integer overflow in '/' (") + ast::scalarName(k) +
                    ")");
    unsafe = b.CreateOr(unsafe, overflow);
  }
  // Division by zero and INT_MIN / -1 are undefined in LLVM (SIGFPE on
  // x86): divide by 1 instead; the fault is reported after the loop.
  llvm::Value *safe = b.CreateSelect(unsafe, llvm::ConstantInt::get(t, 1), y);
  if (remainder)
    return isSigned(k) ? b.CreateSRem(x, safe) : b.CreateURem(x, safe);
  return isSigned(k) ? b.CreateSDiv(x, safe) : b.CreateUDiv(x, safe);
}

llvm::Value *FunctionEmitter::checkedNegate(llvm::Value *x, ast::ScalarKind k,
                                            SourceRange r, const char *what) {
  auto *t = llvm::cast<llvm::IntegerType>(x->getType());
  llvm::Value *bad =
      isSigned(k)
          ? b.CreateICmpEQ(
                x, llvm::ConstantInt::get(
                       t, llvm::APInt::getSignedMinValue(t->getBitWidth())))
          : b.CreateICmpNE(x, llvm::ConstantInt::get(t, 0));
  noteFault(bad, r,
            std::string("integer overflow in ") + what + " (" +
                ast::scalarName(k) + ")");
  return b.CreateSub(llvm::ConstantInt::get(t, 0), x);
}

llvm::Value *FunctionEmitter::checkedPower(llvm::Value *x, llvm::Value *e,
                                           ast::ScalarKind k, SourceRange r) {
  // Square-and-multiply over every exponent bit, straight-line (so it
  // vectorizes): a product is checked when it is used — the result's when
  // the bit is set, the base's square when a higher bit remains.
  auto *t = llvm::cast<llvm::IntegerType>(x->getType());
  unsigned bits = t->getBitWidth();
  llvm::Value *zero = llvm::ConstantInt::get(t, 0);
  llvm::Value *one = llvm::ConstantInt::get(t, 1);
  llvm::Type *wide = b.getIntNTy(2 * bits);
  bool sign = isSigned(k);
  auto extend = [&](llvm::Value *v) {
    return sign ? b.CreateSExt(v, wide) : b.CreateZExt(v, wide);
  };
  auto product = [&](llvm::Value *a, llvm::Value *c, llvm::Value *used,
                     llvm::Value *&bad) {
    llvm::Value *exact = b.CreateMul(extend(a), extend(c));
    llvm::Value *p = b.CreateTrunc(exact, t);
    bad = b.CreateOr(bad, b.CreateAnd(used, b.CreateICmpNE(extend(p), exact)));
    return p;
  };
  llvm::Value *negativeExponent =
      sign ? b.CreateICmpSLT(e, zero)
           : static_cast<llvm::Value *>(b.getFalse());
  llvm::Value *bad = b.getFalse();
  llvm::Value *result = one, *base = x;
  for (unsigned j = 0; j + 1 < bits || (!sign && j < bits); ++j) {
    llvm::Value *bit =
        b.CreateICmpNE(b.CreateAnd(b.CreateLShr(e, j), one), zero);
    bit = b.CreateAnd(bit, b.CreateNot(negativeExponent));
    result = b.CreateSelect(bit, product(result, base, bit, bad), result);
    if (j + 1 < bits) {
      llvm::Value *more = b.CreateICmpNE(b.CreateLShr(e, j + 1), zero);
      more = b.CreateAnd(more, b.CreateNot(negativeExponent));
      base = product(base, base, more, bad);
    }
  }
  noteFault(bad, r,
            std::string("integer overflow in pow (") + ast::scalarName(k) +
                ")");
  if (!sign)
    return result;
  // A negative exponent truncates as division does: 1 for x = 1, +-1 for
  // x = -1, 0 otherwise, and x = 0 divides by zero.
  noteFault(b.CreateAnd(negativeExponent, b.CreateICmpEQ(x, zero)), r,
            "integer division by zero in pow (negative exponent of 0)");
  llvm::Value *minusOne = llvm::ConstantInt::getSigned(t, -1);
  llvm::Value *odd = b.CreateICmpNE(b.CreateAnd(e, one), zero);
  llvm::Value *reciprocal =
      b.CreateSelect(b.CreateICmpEQ(x, one), one,
                     b.CreateSelect(b.CreateICmpEQ(x, minusOne),
                                    b.CreateSelect(odd, minusOne, one), zero));
  return b.CreateSelect(negativeExponent, reciprocal, result);
}

llvm::Value *FunctionEmitter::integerProduct(llvm::Value *x, llvm::Value *y,
                                             ast::ScalarKind k, SourceRange r) {
  // Up to 32-bit elements the product is exact in i64; i64 is checked.
  if (k == ast::ScalarKind::I64)
    return checkedArithmetic(ast::BinaryOp::Mul, x, y, k, r);
  llvm::Type *t = b.getInt64Ty();
  auto widen = [&](llvm::Value *v) {
    return isSigned(k) ? b.CreateSExt(v, t) : b.CreateZExt(v, t);
  };
  return b.CreateMul(widen(x), widen(y));
}

llvm::Value *FunctionEmitter::checkedAccumulate(llvm::Value *acc,
                                                llvm::Value *x, SourceRange r,
                                                const std::string &what) {
  // acc and x are i64: overflow iff both operands' signs differ from the
  // result's (Hacker's Delight 2-13).
  llvm::Value *sum = b.CreateAdd(acc, x);
  llvm::Value *signs = b.CreateAnd(b.CreateXor(acc, sum), b.CreateXor(x, sum));
  noteFault(b.CreateICmpSLT(signs, i64(0)), r, what);
  return sum;
}

llvm::Value *FunctionEmitter::checkedNarrow(llvm::Value *v, ast::ScalarKind k,
                                            SourceRange r,
                                            const std::string &what) {
  llvm::Type *t = m_.elementType(k);
  if (t == v->getType())
    return v;
  llvm::Value *narrow = b.CreateTrunc(v, t);
  llvm::Value *back = isSigned(k) ? b.CreateSExt(narrow, v->getType())
                                  : b.CreateZExt(narrow, v->getType());
  noteFault(b.CreateICmpNE(back, v), r, what);
  return narrow;
}

} // namespace fedc::codegen
