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

#include "internal.h"

/* In front of every block zstd gets: its size, for the wipe. */
typedef union zstd_block_header {
    size_t size;
    max_align_t align; /* keeps the block behind it aligned as malloc's */
} zstd_block_header;

static void *zstd_alloc(void *opaque, size_t size)
{
    (void)opaque;
    if (size > SIZE_MAX - sizeof(zstd_block_header))
        return NULL;
    zstd_block_header *h = malloc(sizeof *h + size);
    if (h == NULL)
        return NULL;
    h->size = size;
    return h + 1;
}

static void zstd_free(void *opaque, void *block)
{
    (void)opaque;
    if (block == NULL)
        return;
    zstd_block_header *h = (zstd_block_header *)block - 1;
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
