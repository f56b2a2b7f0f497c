# SPDX-License-Identifier: BSD-2-Clause
"""no_openat2.py ERRNO PROGRAM [ARG...] - runs PROGRAM with openat2(2)
refused by a seccomp filter, with ENOSYS (as a kernel before 5.6 or valgrind
answers) or EPERM (as a container's or a service manager's filter may): for
the tests of the walk htd opens files with where openat2 cannot be used."""

import ctypes
import errno
import os
import struct
import sys

SYS_OPENAT2 = 437  # the same number on every architecture (the common table)
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06


def main():
    err = getattr(errno, sys.argv[1])
    # struct sock_filter: code (u16), jt, jf (u8), k (u32). The system call's
    # number is at offset 0 of struct seccomp_data.
    prog = [(BPF_LD_W_ABS, 0, 0, 0),
            (BPF_JEQ_K, 0, 1, SYS_OPENAT2),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | err),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)]
    raw = b"".join(struct.pack("=HBBI", *ins) for ins in prog)
    filt = ctypes.create_string_buffer(raw, len(raw))
    # struct sock_fprog: len (unsigned short), then the pointer, aligned.
    fprog = struct.pack("HxxxxxxP", len(prog), ctypes.addressof(filt))
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fbuf), 0, 0) != 0:
        sys.exit("no_openat2: prctl: " + os.strerror(ctypes.get_errno()))
    os.execv(sys.argv[2], sys.argv[2:])


main()
