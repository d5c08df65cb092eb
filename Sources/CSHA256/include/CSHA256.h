#ifndef VMIMAGE_CSHA256_H
#define VMIMAGE_CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// Runs the SHA-256 compression function over `blocks` 64-byte blocks at `data`, updating
/// `state` (the eight working words a..h). Uses the x86 SHA extensions when the CPU has them.
void vmimage_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

/// The same in portable C (for tests that compare the two paths).
void vmimage_sha256_blocks_portable(uint32_t state[8], const uint8_t *data, size_t blocks);

/// Whether vmimage_sha256_blocks uses the x86 SHA extensions on this CPU.
int vmimage_sha256_has_hardware(void);

#endif
