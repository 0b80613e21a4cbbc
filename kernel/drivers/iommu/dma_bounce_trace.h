/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tracepoints of the IOMMU DMA bounce pools (drivers/iommu/dma-bounce.c)
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM iommu_bounce

#if !defined(_TRACE_IOMMU_BOUNCE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_IOMMU_BOUNCE_H

#include <linux/device.h>
#include <linux/tracepoint.h>

TRACE_EVENT(iommu_bounce_map,
	    TP_PROTO(struct device *dev, phys_addr_t phys, dma_addr_t dma,
		     size_t size),
	    TP_ARGS(dev, phys, dma, size),
	    TP_STRUCT__entry(__string(dev_name, dev_name(dev))
			     __field(u64, phys)
			     __field(u64, dma)
			     __field(size_t, size)),
	    TP_fast_assign(__assign_str(dev_name);
			   __entry->phys = phys;
			   __entry->dma = dma;
			   __entry->size = size;),
	    TP_printk("dev=%s phys=0x%llx dma=0x%llx size=%zu",
		      __get_str(dev_name), __entry->phys, __entry->dma,
		      __entry->size)
);

TRACE_EVENT(iommu_bounce_unmap,
	    TP_PROTO(struct device *dev, dma_addr_t dma, size_t size),
	    TP_ARGS(dev, dma, size),
	    TP_STRUCT__entry(__string(dev_name, dev_name(dev))
			     __field(u64, dma)
			     __field(size_t, size)),
	    TP_fast_assign(__assign_str(dev_name);
			   __entry->dma = dma;
			   __entry->size = size;),
	    TP_printk("dev=%s dma=0x%llx size=%zu", __get_str(dev_name),
		      __entry->dma, __entry->size)
);

TRACE_EVENT(iommu_bounce_fallback,
	    TP_PROTO(struct device *dev, size_t size, const char *reason),
	    TP_ARGS(dev, size, reason),
	    TP_STRUCT__entry(__string(dev_name, dev_name(dev))
			     __field(size_t, size)
			     __string(reason, reason)),
	    TP_fast_assign(__assign_str(dev_name);
			   __entry->size = size;
			   __assign_str(reason);),
	    TP_printk("dev=%s size=%zu reason=%s", __get_str(dev_name),
		      __entry->size, __get_str(reason))
);

TRACE_EVENT(iommu_bounce_grow,
	    TP_PROTO(const char *pool, size_t size, dma_addr_t iova,
		     unsigned long nr),
	    TP_ARGS(pool, size, iova, nr),
	    TP_STRUCT__entry(__string(pool, pool)
			     __field(size_t, size)
			     __field(u64, iova)
			     __field(unsigned long, nr)),
	    TP_fast_assign(__assign_str(pool);
			   __entry->size = size;
			   __entry->iova = iova;
			   __entry->nr = nr;),
	    TP_printk("pool=%s size=%zu iova=0x%llx slots=%lu",
		      __get_str(pool), __entry->size, __entry->iova,
		      __entry->nr)
);

TRACE_EVENT(iommu_bounce_shrink,
	    TP_PROTO(const char *pool, unsigned long nr, int reason),
	    TP_ARGS(pool, nr, reason),
	    TP_STRUCT__entry(__string(pool, pool)
			     __field(unsigned long, nr)
			     __field(int, reason)),
	    TP_fast_assign(__assign_str(pool);
			   __entry->nr = nr;
			   __entry->reason = reason;),
	    TP_printk("pool=%s freed=%lu reason=%s", __get_str(pool),
		      __entry->nr,
		      __print_symbolic(__entry->reason,
				       { 0, "aging" }, { 1, "shrinker" },
				       { 2, "teardown" }, { 3, "reserve" }))
);

#endif /* _TRACE_IOMMU_BOUNCE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE dma_bounce_trace
#include <trace/define_trace.h>
