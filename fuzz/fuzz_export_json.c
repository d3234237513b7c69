/*
 * fuzz_export_json.c - an instance export file that is a JSON document or JSONL (the
 * streaming reader, export_stream.c): smar_export_open, every secret, the document.
 * Each input is read from a regular file, and a third of them also from standard input
 * a few bytes per read(2), so the read window fills at every boundary (odd sizes with the
 * size limits lowered). Non-JSON input falls through to the tar/zip reader, which
 * fuzz_export_archive covers.
 */
#include "common.h"
#include "export_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    const char *path = fz_tmp_path("export.json");
    if (fz_write_file(path, data, size, 0600) != 0)
        abort();
    fz_read_export(path, false);
    /* a third of the inputs (it is slower) again through a pipe-like input, with small
     * reads and (odd sizes) small limits */
    if (size % 3 == 0)
        fz_read_export_stream(data, size, 1 + size / 3 % 257, size & 1);
    return 0;
}
