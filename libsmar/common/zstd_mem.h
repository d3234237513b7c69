/*
 * zstd_mem.h - zstd contexts whose memory is wiped before it is freed.
 *
 * A compression context keeps plaintext in its workspace (literals, the match window) and
 * a decompression context in its literal buffer, so every ZSTD_CCtx and ZSTD_DCtx libsmar
 * makes comes from here: its allocations carry their size in a header in front of the
 * block, and each is wiped over that size before free(). Release them with ZSTD_freeCCtx /
 * ZSTD_freeDCtx as usual: the context remembers the allocator it was made with. One-shot
 * ZSTD_compress / ZSTD_decompress allocate a context of their own with plain malloc, so
 * libsmar never calls them: it calls ZSTD_compressCCtx / ZSTD_decompressDCtx with one of
 * these.
 */
#ifndef SMAR_ZSTD_MEM_H
#define SMAR_ZSTD_MEM_H

#include <zstd.h>

/* A new context, or NULL when out of memory. */
ZSTD_CCtx *smar_zstd_cctx_new(void);
ZSTD_DCtx *smar_zstd_dctx_new(void);

#endif
