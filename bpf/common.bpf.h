/* The includes every Corral BPF program starts with (never included by userspace). vmlinux.h
 * comes first: libbpf's headers use its types. */
#pragma once
/* clang-format off */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
/* clang-format on */
