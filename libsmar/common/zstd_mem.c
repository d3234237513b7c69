/*
 * zstd_mem.c - zstd's memory, wiped before it is freed (see zstd_mem.h).
 */
/* For ZSTD_customMem and ZSTD_create?Ctx_advanced: in every libzstd since 1.0 (the build
 * requires 1.4), exported by the shared library, only kept out of the stable section. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "zstd_mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* In front of every block zstd gets: its size, for the wipe. */
typedef union zstd_block_header {
    size_t size;
    max_align_t align; /* keeps the block behind it aligned as malloc's */
} zstd_block_header;

/* Blocks of this size and more get pages of their own (see zstd_free for why). A
 * decompression context is ~95 KB of which a name lookup touches a third; a compression
 * context's workspace is larger still. Smaller blocks come from malloc, wiped whole. */
#define ZSTD_MAPPED_MIN ((size_t)64 * 1024)

static size_t mapped_len(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = sizeof(zstd_block_header) + size;
    return (n + page - 1) / page * page;
}

static void *zstd_alloc(void *opaque, size_t size)
{
    (void)opaque;
    if (size > SIZE_MAX / 2)
        return NULL;
    zstd_block_header *h;
    if (size >= ZSTD_MAPPED_MIN) {
        h = mmap(NULL, mapped_len(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0);
        if (h == MAP_FAILED)
            return NULL;
    } else if ((h = malloc(sizeof *h + size)) == NULL) {
        return NULL;
    }
    h->size = size;
    return h + 1;
}

/* A mapped block is unmapped without a wipe, and that is as good as one: its pages go back
 * to the kernel, which fills every page with zeros before it maps it again, for this
 * process or any other, so no later allocation can see the bytes (free() would hand them
 * to the next malloc as they are). Nothing of them is left in the process to dump either.
 * The pages zstd never wrote were never even backed: a wipe would fault them in only to
 * zero them, which is most of what freeing a reader's context used to cost. (Swap is the
 * same either way: the contexts are not locked, and a wipe does not reach a copy already
 * swapped out.) */
static void zstd_free(void *opaque, void *block)
{
    (void)opaque;
    if (block == NULL)
        return;
    zstd_block_header *h = (zstd_block_header *)block - 1;
    if (h->size >= ZSTD_MAPPED_MIN)
        munmap(h, mapped_len(h->size));
    else
        smar_wipe_free(h, sizeof *h + h->size);
}

static const ZSTD_customMem zstd_wiping_mem = {zstd_alloc, zstd_free, NULL};

ZSTD_CCtx *smar_zstd_cctx_new(void)
{
    return ZSTD_createCCtx_advanced(zstd_wiping_mem);
}

ZSTD_DCtx *smar_zstd_dctx_new(void)
{
    return ZSTD_createDCtx_advanced(zstd_wiping_mem);
}
