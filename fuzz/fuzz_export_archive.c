/*
 * fuzz_export_archive.c - an instance export file read as a tar or zip (plain or
 * gzip/bzip2/xz/zstd compressed) through libarchive (export_tree.c): the entries' names,
 * instance.json first, every secrets/<id>.json, the document. Same calls as
 * fuzz_export_json; the seeds are archives. Each input is read from a regular file (two
 * passes: instance.json first; odd sizes with lowered size limits) and a third of them from
 * standard input (one pass, the window's bytes first).
 */
#include "common.h"
#include "export_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    const char *path = fz_tmp_path("export.tar");
    if (fz_write_file(path, data, size, 0600) != 0)
        abort();
    fz_read_export(path, size & 1);
    /* a third of the inputs again from standard input: the one-pass (non-seekable)
     * reading, with small reads */
    if (size % 3 == 0)
        fz_read_export_stream(data, size, 1 + size / 3 % 4093, false);
    return 0;
}
