//! Two ways in, one trampoline.
//!
//! PVH (the default build): QEMU (`-kernel kernel.elf`) finds
//! XEN_ELFNOTE_PHYS32_ENTRY in .note.Xen, loads the ELF at its physical
//! addresses and jumps to `pvh_start32` in 32-bit protected mode, paging off,
//! with %ebx pointing at the `hvm_start_info` block.
//!
//! Multiboot (feature `boot-multiboot`): the image carries a multiboot1 header
//! instead of the PVH note.  QEMU's multiboot loader enters
//! `multiboot_start32` (the ELF entry) in the same state, with %eax =
//! 0x2BADB002 and %ebx pointing at the multiboot info; it checks %eax and goes
//! on into `pvh_start32`.  QEMU's loader refuses an x86-64 ELF, so the image
//! boots from a copy whose e_machine says i386 (EM_386), as Kevlar's does.
//!
//! The trampoline zeroes .bss, identity-maps the first GiB with 2 MiB pages,
//! enables PAE and long mode, loads a 64-bit GDT and calls
//! `kernel_main(boot_info)` on the boot stack.

#[cfg(not(feature = "boot-multiboot"))]
core::arch::global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4                 /* namesz: "Xen\0" */
    .long 8                 /* descsz: 64-bit entry address */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .p2align 2
    .quad pvh_start32
    .text
"#,
    options(att_syntax)
);

// The multiboot1 header: QEMU looks for it in the first 8 KiB of the file,
// 4-byte aligned (linker.ld puts .multiboot first, at file offset 0x1000).
// Flags: bit 1, memory information wanted.  No bit 16 (the a.out kludge):
// QEMU then loads the image as an ELF, by its program headers.
#[cfg(feature = "boot-multiboot")]
core::arch::global_asm!(
    r#"
    .set MULTIBOOT_MAGIC, 0x1BADB002
    .set MULTIBOOT_FLAGS, 0x00000002
    .section .multiboot, "a", @progbits
    .p2align 2
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

    .section .text.boot, "ax", @progbits
    .code32
    .global multiboot_start32
multiboot_start32:
    cmp $0x2BADB002, %eax       /* a multiboot loader started us */
    je pvh_start32              /* %ebx: the multiboot info */
    mov $0xf4, %dx              /* anything else: exit as a panic does */
    mov $1, %eax
    out %eax, %dx
1:
    cli
    hlt
    jmp 1b
    .code64
    .text
"#,
    options(att_syntax)
);

core::arch::global_asm!(
    r#"
    .section .text.boot, "ax", @progbits
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %esi              /* boot info (PVH or multiboot), for kernel_main */

    mov $__bss_start, %edi      /* zero .bss: page tables, stacks, statics */
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    mov $boot_stack_top, %esp

    mov $boot_pdpt, %eax        /* PML4[0] -> PDPT, PDPT[0] -> PD */
    or $0x3, %eax
    mov %eax, boot_pml4
    mov $boot_pd, %eax
    or $0x3, %eax
    mov %eax, boot_pdpt
    xor %ecx, %ecx              /* PD: 512 x 2 MiB, present|write|huge */
1:
    mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, boot_pd(,%ecx,8)
    inc %ecx
    cmp $512, %ecx
    jne 1b

    mov %cr4, %eax              /* PAE */
    or $0x20, %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx       /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax              /* PG | PE */
    or $0x80000001, %eax
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    mov $boot_stack_top, %rsp
    xor %ebp, %ebp
    mov %esi, %edi              /* kernel_main(boot_info) */
    call kernel_main
2:
    cli
    hlt
    jmp 2b

    .section .rodata.boot, "a", @progbits
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .section .bss.boot, "aw", @nobits
    .p2align 12
    .global boot_pml4, boot_pdpt, boot_pd, boot_stack_bottom, boot_stack_top
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096
boot_stack_bottom:
    .skip 65536
boot_stack_top:
    .code64
"#,
    options(att_syntax)
);

/// The identity-mapping page directory built above (entry i maps i * 2 MiB).
pub fn boot_pd() -> *mut u64 {
    extern "C" {
        static mut boot_pd: [u64; 512];
    }
    (&raw mut boot_pd).cast()
}

/// The boot stack: [bottom, top).
pub fn boot_stack() -> (u64, u64) {
    extern "C" {
        static boot_stack_bottom: u8;
        static boot_stack_top: u8;
    }
    (
        &raw const boot_stack_bottom as u64,
        &raw const boot_stack_top as u64,
    )
}

/// The PVH `hvm_start_info` block QEMU hands over (only what we read).
#[cfg(not(feature = "boot-multiboot"))]
#[repr(C)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
}

#[cfg(not(feature = "boot-multiboot"))]
static_assertions::const_assert_eq!(core::mem::offset_of!(StartInfo, cmdline_paddr), 24);

#[cfg(not(feature = "boot-multiboot"))]
const START_INFO_MAGIC: u32 = 0x336e_c578;

/// The kernel command line (`qemu -append`), empty when there is none.
#[cfg(not(feature = "boot-multiboot"))]
pub fn cmdline(start_info: u32) -> &'static [u8] {
    if start_info == 0 {
        return &[];
    }
    // SAFETY: QEMU's PVH loader put the block (and the command line) in low
    // memory, which the boot page tables identity-map and nothing overwrites.
    unsafe {
        let info = &*(start_info as usize as *const StartInfo);
        if info.magic != START_INFO_MAGIC || info.cmdline_paddr == 0 {
            return &[];
        }
        c_string(info.cmdline_paddr)
    }
}

/// The start of the multiboot info block (only what we read).
#[cfg(feature = "boot-multiboot")]
#[repr(C)]
struct MultibootInfo {
    flags: u32,
    mem_lower: u32,
    mem_upper: u32,
    boot_device: u32,
    cmdline: u32,
}

#[cfg(feature = "boot-multiboot")]
static_assertions::const_assert_eq!(core::mem::offset_of!(MultibootInfo, cmdline), 16);

/// Multiboot info flags bit 2: `cmdline` is valid.
#[cfg(feature = "boot-multiboot")]
const MULTIBOOT_INFO_CMDLINE: u32 = 1 << 2;

/// The kernel command line (`qemu -append`), empty when there is none.  A
/// multiboot loader's command line starts with the image's file name (QEMU
/// and GRUB both put it there); that word is dropped.
#[cfg(feature = "boot-multiboot")]
pub fn cmdline(multiboot_info: u32) -> &'static [u8] {
    if multiboot_info == 0 {
        return &[];
    }
    // SAFETY: QEMU's multiboot loader put the info block at 0x9000 and the
    // command line just past the image's .bss; the boot page tables
    // identity-map both and the kernel never writes there.
    let line = unsafe {
        let info = &*(multiboot_info as usize as *const MultibootInfo);
        if info.flags & MULTIBOOT_INFO_CMDLINE == 0 || info.cmdline == 0 {
            return &[];
        }
        c_string(u64::from(info.cmdline))
    };
    let line = line.trim_ascii_start();
    let name_end = line
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(line.len());
    line[name_end..].trim_ascii_start()
}

/// The NUL-terminated string at physical address `paddr` (at most 4 KiB).
///
/// # Safety
/// `paddr` must be identity-mapped memory that nothing writes while the
/// kernel runs.
unsafe fn c_string(paddr: u64) -> &'static [u8] {
    let start = paddr as usize as *const u8;
    let mut len = 0;
    // SAFETY: the caller's promise; the loop stops at the NUL or 4 KiB.
    unsafe {
        while len < 4096 && *start.add(len) != 0 {
            len += 1;
        }
        core::slice::from_raw_parts(start, len)
    }
}
