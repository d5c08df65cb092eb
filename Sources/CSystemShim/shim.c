#define _GNU_SOURCE
#include "CSystemShim.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/types.h>
#include <stdio.h>
#include <sys/mman.h>
#ifdef __linux__
#include <linux/falloc.h>
#endif

int64_t vmimage_seek_data(int fd, int64_t offset) {
#ifdef SEEK_DATA
    return (int64_t)lseek(fd, (off_t)offset, SEEK_DATA);
#else
    errno = EINVAL;
    return -1;
#endif
}

int64_t vmimage_seek_hole(int fd, int64_t offset) {
#ifdef SEEK_HOLE
    return (int64_t)lseek(fd, (off_t)offset, SEEK_HOLE);
#else
    errno = EINVAL;
    return -1;
#endif
}

int vmimage_punch_hole(int fd, int64_t offset, int64_t length) {
#ifdef __linux__
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
#else
    errno = EOPNOTSUPP;
    return -1;
#endif
}

int vmimage_memfd_create(const char *name) {
#if defined(__linux__) && defined(MFD_CLOEXEC)
    return memfd_create(name, MFD_CLOEXEC);
#else
    (void)name;
    errno = ENOSYS;
    return -1;
#endif
}

int vmimage_start_writeback(int fd, int64_t offset, int64_t length) {
#ifdef __linux__
    return sync_file_range(fd, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

int vmimage_rename_noreplace(int olddirfd, const char *oldname, int newdirfd, const char *newname) {
#if defined(__linux__) && defined(RENAME_NOREPLACE)
    return renameat2(olddirfd, oldname, newdirfd, newname, RENAME_NOREPLACE);
#else
    (void)olddirfd; (void)oldname; (void)newdirfd; (void)newname;
    errno = ENOSYS;
    return -1;
#endif
}
