/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Pools of pre-mapped bounce buffers for IOMMU DMA domains: dma-iommu's
 * bounce path. dma-iommu owns one pool per DMA domain and calls in here on
 * its streaming paths. The pool reaches the IOMMU only through struct
 * iommu_dma_bounce_ops, so that KUnit can drive it through a fake domain.
 */
#ifndef __DMA_BOUNCE_H
#define __DMA_BOUNCE_H

#include <linux/dma-direction.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/types.h>

struct device;
struct iova_domain;
struct scatterlist;
struct iommu_dma_bounce_pool;

/**
 * struct iommu_dma_bounce_ops - how a pool reaches its IOMMU domain
 * @alloc_iova: allocate @size bytes of IOVA space below @dma_limit for @dev
 *		(NULL: for any device of the domain); return 0 on failure.
 *		Called from atomic context.
 * @free_iova: give back IOVA space, only after its IOTLB entries are gone.
 * @map: map @size bytes at @phys to @iova with IOMMU_* @prot, allocating
 *	 page tables with @gfp.
 * @unmap: unmap a range, gathering invalidations into @gather.
 * @sync: complete the invalidations gathered by @unmap.
 */
struct iommu_dma_bounce_ops {
	dma_addr_t (*alloc_iova)(void *ctx, struct device *dev, size_t size,
				 u64 dma_limit);
	void (*free_iova)(void *ctx, dma_addr_t iova, size_t size);
	int (*map)(void *ctx, dma_addr_t iova, phys_addr_t phys, size_t size,
		   int prot, gfp_t gfp);
	size_t (*unmap)(void *ctx, dma_addr_t iova, size_t size,
			struct iommu_iotlb_gather *gather);
	void (*sync)(void *ctx, struct iommu_iotlb_gather *gather);
};

/* Pool flags, from the domain */
#define IOMMU_DMA_BOUNCE_POOL_COSTLY	BIT(0)	/* invalidations are costly */
#define IOMMU_DMA_BOUNCE_POOL_UNTRUSTED	BIT(1)	/* an untrusted device uses it */
#define IOMMU_DMA_BOUNCE_POOL_NONCOHERENT BIT(2) /* all devices are (KUnit) */

/* Per-mapping flags passed by dma-iommu */
#define IOMMU_DMA_BOUNCE_FORCE		BIT(0)	/* there is no other way */
#define IOMMU_DMA_BOUNCE_UNTRUSTED	BIT(1)	/* zero all but the data */

/* Values of the per-pool "bounce" mode */
enum iommu_dma_bounce_mode {
	IOMMU_DMA_BOUNCE_OFF,	/* only mappings dma-iommu must bounce */
	IOMMU_DMA_BOUNCE_ON,	/* also every mapping up to the threshold */
	IOMMU_DMA_BOUNCE_AUTO,	/* "on" if invalidations are costly, else "off" */
};

struct iommu_dma_bounce_pool *
iommu_dma_bounce_pool_create(struct iommu_domain *domain,
			     struct iova_domain *iovad, struct device *dev);
void iommu_dma_bounce_pool_destroy(struct iommu_dma_bounce_pool *pool);
void iommu_dma_bounce_add_device(struct iommu_dma_bounce_pool *pool,
				 struct device *dev);
size_t iommu_dma_bounce_max_size(struct iommu_dma_bounce_pool *pool);

bool iommu_dma_bounce_wanted(struct iommu_dma_bounce_pool *pool, size_t size,
			     unsigned long attrs);
dma_addr_t iommu_dma_bounce_map(struct iommu_dma_bounce_pool *pool,
				struct device *dev, phys_addr_t phys,
				size_t size, enum dma_data_direction dir,
				unsigned long attrs, unsigned int flags);
bool iommu_dma_bounce_unmap(struct iommu_dma_bounce_pool *pool,
			    struct device *dev, dma_addr_t dma, size_t size,
			    enum dma_data_direction dir, unsigned long attrs);
bool iommu_dma_bounce_sync(struct iommu_dma_bounce_pool *pool,
			   struct device *dev, dma_addr_t dma, size_t size,
			   enum dma_data_direction dir, bool for_cpu);
int iommu_dma_bounce_map_sg(struct iommu_dma_bounce_pool *pool,
			    struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs);

/* sysfs attributes of an IOMMU group, called with the group mutex held */
enum iommu_dma_bounce_attr {
	IOMMU_DMA_BOUNCE_ATTR_MODE,
	IOMMU_DMA_BOUNCE_ATTR_THRESHOLD,
};

ssize_t iommu_dma_bounce_attr(struct iommu_domain *domain,
			      enum iommu_dma_bounce_attr attr, const char *in,
			      char *out);

/* Provided by dma-iommu.c: the pool of a DMA domain, or NULL */
struct iommu_dma_bounce_pool *iommu_dma_domain_bounce_pool(struct iommu_domain *domain);

#define IOMMU_DMA_BOUNCE_NR_CLASSES	6

/* Why a mapping offered to the pool was not bounced */
enum iommu_dma_bounce_fallback {
	IOMMU_DMA_BOUNCE_FB_TOO_LARGE,	/* larger than the largest slot */
	IOMMU_DMA_BOUNCE_FB_CAP,	/* the pool is at its cap */
	IOMMU_DMA_BOUNCE_FB_NOMEM,	/* no memory for a slot */
	IOMMU_DMA_BOUNCE_FB_IOVA,	/* no IOVA space inside the DMA mask */
	IOMMU_DMA_BOUNCE_FB_MAP,	/* the IOMMU refused to map a new slot */
	IOMMU_DMA_BOUNCE_FB_ATTRS,	/* attributes the pool does not serve */
	IOMMU_DMA_BOUNCE_FB_SKIP_SYNC,	/* long-lived: DMA_ATTR_SKIP_CPU_SYNC */
	IOMMU_DMA_BOUNCE_NR_FALLBACKS,
};

/**
 * struct iommu_dma_bounce_stats - a snapshot of a pool's counters
 * @slots: slots per size class
 * @free: idle slots per size class, reserve not included
 * @reserve: reserve slots per size class
 * @bytes: memory held by the pool
 * @maps: mappings served by the pool
 * @maps_softirq: of those, made in softirq context (e.g. NAPI)
 * @maps_hardirq: of those, made in hardirq context
 * @bytes_bounced: bytes of those mappings
 * @cache_maint: CPU cache maintenance calls on (non-coherent) slots
 * @fallbacks: mappings that took the normal path, by reason
 * @failed: mappings that had to bounce and could not: mapping errors
 * @freed_aging: slots freed by aging
 * @freed_shrinker: slots freed by the shrinker
 * @syncs: IOTLB syncs issued to release slots
 * @leaked: bytes of slots the IOMMU failed to unmap, never reused
 */
struct iommu_dma_bounce_stats {
	unsigned long slots[IOMMU_DMA_BOUNCE_NR_CLASSES];
	unsigned long free[IOMMU_DMA_BOUNCE_NR_CLASSES];
	unsigned long reserve[IOMMU_DMA_BOUNCE_NR_CLASSES];
	unsigned long bytes;
	unsigned long maps;
	unsigned long maps_softirq;
	unsigned long maps_hardirq;
	unsigned long bytes_bounced;
	unsigned long cache_maint;
	unsigned long fallbacks[IOMMU_DMA_BOUNCE_NR_FALLBACKS];
	unsigned long failed;
	unsigned long freed_aging;
	unsigned long freed_shrinker;
	unsigned long syncs;
	unsigned long leaked;
};
#endif /* __DMA_BOUNCE_H */
