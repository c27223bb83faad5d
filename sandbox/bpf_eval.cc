#include "sandbox/bpf_eval.h"

#include <cstring>

namespace corral::sandbox {

Result<uint32_t> bpf_evaluate(const std::vector<sock_filter>& prog, const seccomp_data& data) {
  uint32_t a = 0, x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  auto bad = [](size_t pc, const char* why) {
    return make_error(Code::kInvalidArgument, "BPF instruction " + std::to_string(pc) + ": " + why);
  };
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& ins = prog[pc];
    uint32_t k = ins.k;
    switch (BPF_CLASS(ins.code)) {
      case BPF_LD:
      case BPF_LDX: {
        uint32_t v = 0;
        switch (BPF_MODE(ins.code)) {
          case BPF_ABS:
            if (BPF_SIZE(ins.code) != BPF_W || k % 4 != 0 || k + 4 > sizeof data) {
              return bad(pc, "load outside seccomp_data");
            }
            std::memcpy(&v, reinterpret_cast<const char*>(&data) + k, 4);
            break;
          case BPF_IMM:
            v = k;
            break;
          case BPF_MEM:
            if (k >= BPF_MEMWORDS) return bad(pc, "scratch index out of range");
            v = mem[k];
            break;
          case BPF_LEN:
            v = sizeof data;
            break;
          default:
            return bad(pc, "unsupported load mode");
        }
        (BPF_CLASS(ins.code) == BPF_LD ? a : x) = v;
        break;
      }
      case BPF_ST:
      case BPF_STX:
        if (k >= BPF_MEMWORDS) return bad(pc, "scratch index out of range");
        mem[k] = BPF_CLASS(ins.code) == BPF_ST ? a : x;
        break;
      case BPF_ALU: {
        uint32_t src = BPF_SRC(ins.code) == BPF_X ? x : k;
        switch (BPF_OP(ins.code)) {
          case BPF_ADD:
            a += src;
            break;
          case BPF_SUB:
            a -= src;
            break;
          case BPF_MUL:
            a *= src;
            break;
          case BPF_DIV:
            if (src == 0) return bad(pc, "division by zero");
            a /= src;
            break;
          case BPF_OR:
            a |= src;
            break;
          case BPF_AND:
            a &= src;
            break;
          case BPF_LSH:
            a = src >= 32 ? 0 : a << src;
            break;
          case BPF_RSH:
            a = src >= 32 ? 0 : a >> src;
            break;
          case BPF_NEG:
            a = 0 - a;
            break;
          default:
            return bad(pc, "unsupported ALU op");
        }
        break;
      }
      case BPF_JMP: {
        size_t target;
        if (BPF_OP(ins.code) == BPF_JA) {
          target = pc + 1 + k;
        } else {
          uint32_t src = BPF_SRC(ins.code) == BPF_X ? x : k;
          bool taken;
          switch (BPF_OP(ins.code)) {
            case BPF_JEQ:
              taken = a == src;
              break;
            case BPF_JGT:
              taken = a > src;
              break;
            case BPF_JGE:
              taken = a >= src;
              break;
            case BPF_JSET:
              taken = (a & src) != 0;
              break;
            default:
              return bad(pc, "unsupported jump");
          }
          target = pc + 1 + (taken ? ins.jt : ins.jf);
        }
        if (target >= prog.size()) return bad(pc, "jump past the end");
        pc = target - 1;
        break;
      }
      case BPF_RET:
        if (BPF_RVAL(ins.code) == BPF_K) return k;
        if (BPF_RVAL(ins.code) == BPF_A) return a;
        return bad(pc, "unsupported return");
      case BPF_MISC:
        if (BPF_MISCOP(ins.code) == BPF_TAX) {
          x = a;
        } else if (BPF_MISCOP(ins.code) == BPF_TXA) {
          a = x;
        } else {
          return bad(pc, "unsupported misc op");
        }
        break;
      default:
        return bad(pc, "unknown instruction class");
    }
  }
  return make_error(Code::kInvalidArgument, "BPF program ends without returning");
}

}  // namespace corral::sandbox
