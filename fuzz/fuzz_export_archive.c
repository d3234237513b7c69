/*
 * fuzz_export_archive.c - an instance export file read as a tar or zip (plain or
 * gzip/bzip2/xz/zstd compressed) through libarchive (export_tree.c): the entries' names,
 * instance.json first, every secrets/<id>.json, the document. Same calls as
 * fuzz_export_json; the seeds are archives.
 */
#include "common.h"
#include "export_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    const char *path = fz_tmp_path("export.tar");
    if (fz_write_file(path, data, size, 0600) != 0)
        abort();
    fz_read_export(path);
    return 0;
}
