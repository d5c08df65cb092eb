#ifndef SWIFT_VMIMAGE_CZSTD_H
#define SWIFT_VMIMAGE_CZSTD_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
