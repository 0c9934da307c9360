/* corral's exec trampoline (x86-64): a whole static ELF file, 64-bit, no libc.
 * The container's init execs it from a sealed memfd once it is ready, so that while the
 * container waits for `start`, and when the kernel resolves an interpreter named
 * /proc/self/exe, the init's executable is this sealed file, never corral's binary.
 *
 * argv: FD PATH ARG0 ARG1 ...; the environment is passed on.
 *   read(FD, 1 byte), again on EINTR; end of file or an error: exit 1 (not started)
 *   fcntl(FD, F_SETFD, FD_CLOEXEC): the user's execve closes it, which `start` waits for
 *   execve(PATH, [ARG0, ARG1, ...], envp)
 *   on failure: "corral: exec PATH: errno N" on stderr, exit 127
 * Fewer than 3 arguments (run as an interpreter, or by hand): exit 127.
 * Build: as --64 -o t.o trampoline-x86_64.S && objcopy -O binary t.o t.bin */
        .intel_syntax noprefix
        .set    BASE, 0x400000
        .text
ehdr:   .byte   0x7f, 'E', 'L', 'F', 2, 1, 1, 0     /* 64-bit, little-endian, SysV */
        .quad   0
        .word   2                                   /* ET_EXEC */
        .word   62                                  /* EM_X86_64 */
        .long   1
        .quad   BASE + start - ehdr                 /* e_entry */
        .quad   phdr - ehdr                         /* e_phoff */
        .quad   0                                   /* e_shoff */
        .long   0                                   /* e_flags */
        .word   64, 56, 2, 0, 0, 0                  /* ehsize, phentsize, phnum, sh* */
phdr:   .long   1, 5                                /* PT_LOAD, R+X */
        .quad   0, BASE, BASE, end - ehdr, end - ehdr, 0x1000
        .long   0x6474e551, 6                       /* PT_GNU_STACK, RW (not executable) */
        .quad   0, 0, 0, 0, 0, 16

start:  mov     rbx, [rsp]                          /* argc */
        cmp     rbx, 3
        jb      usage
        mov     rsi, [rsp + 8]                      /* FD in decimal */
        xor     r12d, r12d
digit:  movzx   eax, byte ptr [rsi]
        test    al, al
        jz      wait
        sub     eax, '0'
        cmp     eax, 9
        ja      usage
        imul    r12d, r12d, 10
        add     r12d, eax
        inc     rsi
        jmp     digit
wait:   mov     edi, r12d
        lea     rsi, [rsp - 8]                      /* red zone: the byte read */
        mov     edx, 1
        xor     eax, eax                            /* read */
        syscall
        cmp     rax, -4                             /* EINTR */
        je      wait
        cmp     rax, 1
        jne     notstarted
        mov     edi, r12d
        mov     esi, 2                              /* F_SETFD */
        mov     edx, 1                              /* FD_CLOEXEC */
        mov     eax, 72                             /* fcntl */
        syscall
        mov     rdi, [rsp + 16]                     /* PATH */
        lea     rsi, [rsp + 24]                     /* ARG0 ... */
        lea     rdx, [rsp + 16 + rbx * 8]           /* envp: past argv's NULL */
        mov     eax, 59                             /* execve */
        syscall
        neg     rax
        mov     r13, rax                            /* errno */
        lea     rsi, [rip + msg1]
        mov     edx, msg2 - msg1
        call    out
        mov     rsi, [rsp + 16]
        xor     edx, edx
len:    cmp     byte ptr [rsi + rdx], 0
        je      1f
        inc     edx
        jmp     len
1:      call    out
        lea     rsi, [rip + msg2]
        mov     edx, msg3 - msg2
        call    out
        lea     rsi, [rsp - 32]                     /* the errno's digits, backwards */
        mov     byte ptr [rsi], 10                  /* newline */
        mov     rax, r13
        mov     ecx, 10
2:      xor     edx, edx
        div     rcx
        add     dl, '0'
        dec     rsi
        mov     [rsi], dl
        test    rax, rax
        jnz     2b
        lea     rdx, [rsp - 31]
        sub     rdx, rsi
        call    out
usage:  mov     edi, 127
        jmp     quit
notstarted:
        mov     edi, 1
quit:   mov     eax, 231                            /* exit_group */
        syscall
out:    mov     edi, 2                              /* write(2, rsi, rdx) */
        mov     eax, 1
        syscall
        ret
msg1:   .ascii  "corral: exec "
msg2:   .ascii  ": errno "
msg3:
end:
