/* Shared by every Corral BPF program (never by userspace): includes, the license, and the
 * ring-buffer helper that counts what it could not reserve. */
#pragma once
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
