/* RK_NO_ASAN marks a function AddressSanitizer must not instrument: one
 * that runs in a clone(CLONE_VM) child on a stack of its own, which ASan
 * does not know, in memory it shares with its parent (lib/exec's exec
 * child, the warm sandbox's PID 1 and job). Instrumented, such a function
 * would leave poisoned shadow behind in the parent, or fault on it. */
#ifndef RK_BASE_SANITIZE_H
#define RK_BASE_SANITIZE_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(RK_ASAN)
#define RK_NO_ASAN __attribute__((no_sanitize_address))
#else
#define RK_NO_ASAN
#endif

#endif
