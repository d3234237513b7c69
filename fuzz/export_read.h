/*
 * export_read.h - the instance-export harnesses' shared loop: open an export, read every
 * secret and the document, checking what the reader promises about its output.
 */
#ifndef SMAR_FUZZ_EXPORT_READ_H
#define SMAR_FUZZ_EXPORT_READ_H

/* Read the export at path to the end (bounded to a few thousand secrets). */
void fz_read_export(const char *path);

#endif
