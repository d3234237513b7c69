/*
 * fuzz_export_json.c - an instance export file that is a JSON document or JSONL (the
 * streaming reader, export_stream.c): smar_export_open, every secret, the document.
 * Non-JSON input falls through to the tar/zip reader, which fuzz_export_archive covers.
 */
#include "common.h"
#include "export_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    const char *path = fz_tmp_path("export.json");
    if (fz_write_file(path, data, size, 0600) != 0)
        abort();
    fz_read_export(path);
    return 0;
}
