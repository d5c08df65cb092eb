#ifndef SWIFT_VMIMAGE_CSYSTEMSHIM_H
#define SWIFT_VMIMAGE_CSYSTEMSHIM_H

// Linux calls that Swift's Glibc module does not show (they need _GNU_SOURCE).
// Only plain integer types cross this boundary; the definitions live in shim.c,
// which is compiled with _GNU_SOURCE. Each returns -1 and sets errno on failure,
// exactly as the underlying call does.

#include <stdint.h>

/// lseek(fd, offset, SEEK_DATA): the first offset >= `offset` that holds data.
int64_t vmimage_seek_data(int fd, int64_t offset);

/// lseek(fd, offset, SEEK_HOLE): the first offset >= `offset` that is a hole (or EOF).
int64_t vmimage_seek_hole(int fd, int64_t offset);

/// fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length).
int vmimage_punch_hole(int fd, int64_t offset, int64_t length);

/// sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE): start writeback of the
/// dirty pages in the range without waiting for it (Linux; elsewhere it does nothing and
/// returns 0, since it is only ever a hint that makes a later fsync shorter).
int vmimage_start_writeback(int fd, int64_t offset, int64_t length);

/// memfd_create(name, MFD_CLOEXEC): an anonymous file in memory (Linux; elsewhere -1 with
/// errno ENOSYS). The fuzz targets hold each input in one, so code that reads through a
/// descriptor runs on bytes without touching a file system.
int vmimage_memfd_create(const char *name);

/// renameat2(olddirfd, oldname, newdirfd, newname, RENAME_NOREPLACE): moves a name only when
/// the new name does not exist (EEXIST otherwise), atomically. Where the kernel, the file
/// system or the C library lacks it: -1 with errno EINVAL, ENOSYS or ENOTSUP (the caller
/// falls back to link + unlink).
int vmimage_rename_noreplace(int olddirfd, const char *oldname, int newdirfd, const char *newname);

#endif
