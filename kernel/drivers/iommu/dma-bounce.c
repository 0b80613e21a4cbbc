// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pools of pre-mapped bounce buffers: dma-iommu's one bounce path.
 *
 * Each IOMMU DMA domain owns a pool of "slots": buffers of granule << class
 * bytes (the domain's IOVA granule, whatever PAGE_SIZE is), allocated on the
 * device's node and mapped in the IOMMU once, when first needed, inside the
 * DMA mask of the device that asked. A bounced mapping copies the buffer
 * into an idle slot and gives the device the slot's address: the device
 * reaches only pool pages, and the mapping costs no IOMMU map, unmap or
 * IOTLB invalidation.
 *
 * dma-iommu bounces two kinds of mapping here. Those it must bounce
 * (sub-granule mappings of untrusted devices, kmalloc buffers that are not
 * DMA-safe for a non-coherent device) never fall back to a direct mapping:
 * when the pool can neither grow without sleeping nor take a slot from its
 * reserve, which a worker keeps filled, the mapping fails, as when swiotlb
 * is full. Those bounced for speed: every mapping up to a threshold (4 KiB
 * by default), in mode "on", or in mode "auto" (the default) if the IOMMU
 * driver says that its invalidations are costly, as a virtual IOMMU's are.
 * Nothing is measured at run time: timings of a quiet domain found the
 * copy cheaper at every size, while under load the IOMMU path won from
 * 16 KiB up. When the pool cannot serve such a mapping, it is mapped as
 * usual.
 *
 * Idle slots are kept like the IOVA rcache: a stack per CPU and class, and a
 * per-class depot the stacks refill from and spill to. When both are empty,
 * half of another CPU's stack moves to the depot before the pool grows, so
 * memory follows the DMA in flight. Aging and a shrinker give memory back,
 * unmapping in batches with one IOTLB sync each; IOVA space is freed only
 * after that sync.
 *
 * Like swiotlb, a mapping copies the buffer into the slot for every
 * direction, so a device that writes less than it was given leaves the
 * caller's own bytes in the tail. In a domain with an untrusted device,
 * everything in a slot but the mapped bytes is zeroed on map and the mapped
 * bytes are cleared on unmap. Slots stay mapped read-write: after an unmap
 * the device can still reach the idle slot, which holds nothing it was not
 * given, and a stray write lands in pool memory, never in the caller's
 * buffer nor elsewhere in the kernel.
 */

#define pr_fmt(fmt) "iommu-bounce: " fmt

#include <linux/debugfs.h>
#include <linux/dma-map-ops.h>
#include <linux/highmem.h>
#include <linux/init.h>
#include <linux/interrupt.h>
#include <linux/iova.h>
#include <linux/jiffies.h>
#include <linux/kstrtox.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/percpu.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/shrinker.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "dma-bounce.h"

#define CREATE_TRACE_POINTS
#include "dma_bounce_trace.h"

#define IOB_NR_CLASSES		IOMMU_DMA_BOUNCE_NR_CLASSES
/* Idle slots a CPU keeps per class, and how many move to/from the depot */
#define IOB_MAG_SIZE		32
#define IOB_MAG_BATCH		(IOB_MAG_SIZE / 2)
/* How far the depot is searched for a slot inside a narrower DMA mask */
#define IOB_DEPOT_SCAN		(2 * IOB_MAG_SIZE)
/*
 * Growth in the mapping's context, often atomic: the pool's own memory does
 * not come from the atomic reserves. A mapping that must bounce takes a
 * reserve slot instead, and the worker refills the reserve with GFP_KERNEL.
 */
#define IOB_GFP_ATOMIC		(GFP_NOWAIT | __GFP_NOWARN)
/* Reserve slots per class, kept once the pool has had to bounce a mapping */
#define IOB_RESERVE		2
/* The highest limit of reserve slots: any device of the domain reaches them */
#define IOB_RESERVE_LIMIT	DMA_BIT_MASK(32)
/* Aging: how often to look, and how long a slot may sit idle */
#define IOB_AGE_PERIOD		HZ
#define IOB_IDLE_TIME		(5 * HZ)
/* Defaults, overridable on the command line */
#define IOB_DEFAULT_THRESHOLD	SZ_4K
#define IOB_DEFAULT_MAX_BYTES	SZ_64M

/**
 * struct iob_slot - one pre-mapped bounce buffer
 * @node: link in the depot or reserve, or in a release list
 * @va: the slot's memory, granule-aligned and physically contiguous
 * @iova: where the slot is mapped, for the life of the slot
 * @last_used: jiffies when the slot last became idle
 * @orig: the caller's buffer, while the slot is mapped
 * @len: bytes mapped
 * @off: offset of the data in the slot (the caller's IOVA granule offset)
 * @class: size class
 * @flags: IOB_SLOT_*
 * @coherent: mapped IOMMU_CACHE for a coherent device; if false, the CPU
 *	does cache maintenance on everything it writes to the slot
 */
struct iob_slot {
	struct list_head	node;
	void			*va;
	dma_addr_t		iova;
	unsigned long		last_used;
	phys_addr_t		orig;
	size_t			len;
	unsigned int		off;
	u8			class;
	u8			flags;
	bool			coherent;
};

/*
 * What a mapping needs of a slot: inside the device's DMA limit, and mapped
 * for the device's coherency. Coherency is taken per mapping: on OF and ACPI
 * systems dma-iommu sets a domain up before the device's coherency is known.
 */
struct iob_need {
	u64			limit;
	bool			coherent;
};

/* Slot flags: clear the data at unmap; holds data outside the mapped bytes */
#define IOB_SLOT_CLEAR		BIT(0)
#define IOB_SLOT_DIRTY		BIT(1)

/*
 * Idle slots of one size class kept by one CPU. @lock is taken by its own CPU
 * on the fast path, and by aging, the shrinker, teardown and other CPUs that
 * steal from it; it nests outside the depot lock. Irq-safe: mappings are
 * made from hardirq and softirq context too.
 */
struct iob_cpu_cache {
	spinlock_t		lock;	/* see above */
	unsigned int		count;
	unsigned long		last_used;
	struct iob_slot		*slots[IOB_MAG_SIZE];
};

/* Per-CPU stacks and counters (the counters are summed when read) */
struct iob_pcpu {
	struct iob_cpu_cache	cache[IOB_NR_CLASSES];
	unsigned long		maps;
	unsigned long		maps_softirq;
	unsigned long		maps_hardirq;
	unsigned long		bytes_bounced;
	unsigned long		cache_maint;
};

/*
 * Idle slots of one size class shared by all CPUs, and the class's reserve
 * for mappings that must bounce. @lock (irq-safe) protects all four fields.
 */
struct iob_depot {
	spinlock_t		lock;	/* see above */
	struct list_head	free;
	unsigned long		count;
	struct list_head	reserve;
	unsigned long		reserved;
};

static const char * const iob_fallback_names[IOMMU_DMA_BOUNCE_NR_FALLBACKS] = {
	[IOMMU_DMA_BOUNCE_FB_TOO_LARGE]	= "too_large",
	[IOMMU_DMA_BOUNCE_FB_CAP]		= "cap",
	[IOMMU_DMA_BOUNCE_FB_NOMEM]		= "nomem",
	[IOMMU_DMA_BOUNCE_FB_IOVA]		= "iova",
	[IOMMU_DMA_BOUNCE_FB_MAP]		= "map",
	[IOMMU_DMA_BOUNCE_FB_ATTRS]		= "attrs",
	[IOMMU_DMA_BOUNCE_FB_SKIP_SYNC]		= "skip_sync",
};

enum iob_release_reason {
	IOB_REL_AGING,
	IOB_REL_SHRINKER,
	IOB_REL_TEARDOWN,
	IOB_REL_RESERVE,
};

/**
 * struct iommu_dma_bounce_pool - the bounce slots of one IOMMU DMA domain
 * @ops: how to reach the domain: iob_domain_ops, or KUnit's fake
 * @ctx: argument for @ops: the pool itself for iob_domain_ops
 * @domain: the IOMMU domain, for iob_domain_ops
 * @iovad: the domain's IOVA allocator, for iob_domain_ops
 * @granule: IOVA granule of the domain: the smallest slot
 * @shift: log2 of @granule: the lookup array's index is IOVA >> @shift
 * @nid: NUMA node for slot memory
 * @flags: IOMMU_DMA_BOUNCE_POOL_*
 * @untrusted: true once an untrusted device uses the domain
 * @reserve: the classes that keep a reserve: those of the mappings that
 *	had to bounce, a bitmap
 * @reserve_coherent: the coherency of the last mapping that had to bounce,
 *	which the reserve's slots are made for
 * @reserve_limit: the last IOVA granule (an IOVA >> @shift) the worker makes
 *	reserve slots in: initially IOB_RESERVE_LIMIT's, lowered to the
 *	narrowest DMA limit of the mappings that had to bounce (arm64's
 *	dma-ranges often set one below 4 GiB), and never raised again for
 *	the life of the pool
 *
 * @mode and @threshold are written with WRITE_ONCE() under the IOMMU
 * group's mutex (sysfs), @max_bytes only at creation (and by KUnit); all
 * three are read locklessly on the fast path.
 * @mode: an enum iommu_dma_bounce_mode
 * @threshold: largest mapping bounced for speed, in bytes
 * @max_bytes: cap on the memory held by slots
 *
 * @work: refills the reserve, in process context
 *
 * @pcpu: per-CPU stacks of idle slots and counters
 * @depot: per-class shared idle slots and reserve
 * @slots: every IOVA granule of every slot -> its slot. Entries are stored
 *	and erased only while the slot is idle or being created, so a lookup
 *	of a mapped address under RCU (xa_load) always sees a live slot. Slots
 *	grow in any context, so the array's lock is irq-safe
 *	(XA_FLAGS_LOCK_IRQ, always taken with xa_lock_irqsave()).
 * @bytes: memory held by all slots
 * @nr: slots per class
 * @fallbacks: mappings left to the normal path, by enum
 *	iommu_dma_bounce_fallback
 * @failed: mappings that had to bounce and could not
 * @freed_aging: slots freed because they sat idle
 * @freed_shrinker: slots freed under memory pressure
 * @syncs: IOTLB syncs issued to release slots
 * @leaked: bytes of slots the IOMMU failed to unmap, kept out of use for good
 * @age_work: runs aging while the pool holds slots
 * @node: entry in iob_pools, protected by iob_pools_lock
 * @debugfs: this pool's debugfs directory
 * @name: for messages, traces and debugfs
 */
struct iommu_dma_bounce_pool {
	const struct iommu_dma_bounce_ops *ops;
	void			*ctx;
	struct iommu_domain	*domain;
	struct iova_domain	*iovad;
	unsigned long		granule;
	unsigned int		shift;
	int			nid;
	unsigned int		flags;
	bool			untrusted;
	unsigned long		reserve;
	bool			reserve_coherent;
	unsigned long		reserve_limit;

	int			mode;
	size_t			threshold;
	size_t			max_bytes;

	struct work_struct	work;

	struct iob_pcpu __percpu *pcpu;
	struct iob_depot	depot[IOB_NR_CLASSES];
	struct xarray		slots;

	atomic_long_t		bytes;
	atomic_long_t		nr[IOB_NR_CLASSES];
	atomic_long_t		fallbacks[IOMMU_DMA_BOUNCE_NR_FALLBACKS];
	atomic_long_t		failed;
	atomic_long_t		freed_aging;
	atomic_long_t		freed_shrinker;
	atomic_long_t		syncs;
	atomic_long_t		leaked;

	struct delayed_work	age_work;
	struct list_head	node;
	struct dentry		*debugfs;
	char			name[32];
};

/* Defaults for new pools, from the command line */
static int iob_default_mode = IOMMU_DMA_BOUNCE_AUTO;
static size_t iob_default_threshold = IOB_DEFAULT_THRESHOLD;
static size_t iob_default_max_bytes = IOB_DEFAULT_MAX_BYTES;

/*
 * All pools, for the shrinker. iob_pools_lock is only ever trylocked by the
 * shrinker, so that reclaim entered with it held cannot deadlock.
 */
static LIST_HEAD(iob_pools);
static DEFINE_MUTEX(iob_pools_lock);
static struct shrinker *iob_shrinker;
static struct dentry *iob_debugfs_root;

static const char * const iob_mode_names[] = {
	[IOMMU_DMA_BOUNCE_OFF]	= "off",
	[IOMMU_DMA_BOUNCE_ON]	= "on",
	[IOMMU_DMA_BOUNCE_AUTO]	= "auto",
};

/* "auto", or a boolean for on/off: the values of iommu.bounce= and sysfs */
static int iob_parse_mode(const char *str)
{
	bool on;

	if (sysfs_streq(str, "auto"))
		return IOMMU_DMA_BOUNCE_AUTO;
	if (kstrtobool(str, &on))
		return -EINVAL;
	return on ? IOMMU_DMA_BOUNCE_ON : IOMMU_DMA_BOUNCE_OFF;
}

static int __init iob_setup_mode(char *str)
{
	int mode = iob_parse_mode(str);

	/* Warned here: an error would add "Malformed early option" */
	if (mode < 0)
		pr_warn("iommu.bounce=%s ignored, expected 0, 1 or auto\n", str);
	else
		iob_default_mode = mode;
	return 0;
}
early_param("iommu.bounce", iob_setup_mode);

/* Parse a size with K/M/G suffixes for a boot parameter. */
static int __init iob_parse_size(const char *param, char *str, size_t *val)
{
	char *end;
	unsigned long long v = memparse(str, &end);

	if (*end || v > SIZE_MAX)
		pr_warn("%s=%s ignored, expected a size\n", param, str);
	else
		*val = v;
	return 0;
}

static int __init iob_setup_threshold(char *str)
{
	return iob_parse_size("iommu.bounce_threshold", str,
			      &iob_default_threshold);
}
early_param("iommu.bounce_threshold", iob_setup_threshold);

static int __init iob_setup_max_bytes(char *str)
{
	return iob_parse_size("iommu.bounce_max", str, &iob_default_max_bytes);
}
early_param("iommu.bounce_max", iob_setup_max_bytes);

static inline size_t iob_class_size(struct iommu_dma_bounce_pool *pool,
				    unsigned int class)
{
	return pool->granule << class;
}

static inline size_t iob_max_slot(struct iommu_dma_bounce_pool *pool)
{
	return iob_class_size(pool, IOB_NR_CLASSES - 1);
}

/**
 * iommu_dma_bounce_max_size - the largest mapping a pool can bounce
 * @pool: the pool, may be NULL
 *
 * The data keeps its offset in the IOVA granule, so the largest slot holds
 * every mapping of up to its size less one granule plus one byte.
 *
 * Return: that size; SIZE_MAX without a pool (then nothing can bounce, and
 * mappings that must bounce fail whatever their size).
 */
size_t iommu_dma_bounce_max_size(struct iommu_dma_bounce_pool *pool)
{
	if (!pool)
		return SIZE_MAX;
	return iob_max_slot(pool) - (pool->granule - 1);
}

/*
 * The smallest size class that holds the mapping, or -1. The data keeps its
 * offset within the IOVA granule (drivers rely on it through
 * dma_get_min_align_mask()), so the slot must hold offset + size.
 */
static int iob_class(unsigned long granule, phys_addr_t phys, size_t size)
{
	size_t need = (phys & (granule - 1)) + size;

	if (!size || need > granule << (IOB_NR_CLASSES - 1))
		return -1;
	return order_base_2(DIV_ROUND_UP(need, granule));
}

static void iob_fallback(struct iommu_dma_bounce_pool *pool,
			 struct device *dev, size_t size,
			 enum iommu_dma_bounce_fallback why)
{
	/* Not for the worker's growth: no mapping waits for it */
	if (!dev)
		return;
	atomic_long_inc(&pool->fallbacks[why]);
	trace_iommu_bounce_fallback(dev, size, iob_fallback_names[why]);
}

/*
 * Count a bounced mapping, and whether it came from interrupt context:
 * that is where drivers refill receive rings and where the pool must grow
 * without sleeping or taking a lock that process context holds.
 */
static void iob_count_map(struct iommu_dma_bounce_pool *pool, size_t size)
{
	this_cpu_inc(pool->pcpu->maps);
	this_cpu_add(pool->pcpu->bytes_bounced, size);
	if (in_hardirq())
		this_cpu_inc(pool->pcpu->maps_hardirq);
	else if (in_serving_softirq())
		this_cpu_inc(pool->pcpu->maps_softirq);
}

/* Copy between a slot and a buffer that may sit in highmem pages. */
static void iob_copy(void *slot_va, phys_addr_t phys, size_t len, bool to_slot)
{
	while (len) {
		unsigned int poff = offset_in_page(phys);
		size_t chunk = min_t(size_t, len, PAGE_SIZE - poff);
		void *va = kmap_local_page(pfn_to_page(PHYS_PFN(phys)));

		if (to_slot)
			memcpy(slot_va, va + poff, chunk);
		else
			memcpy(va + poff, slot_va, chunk);
		kunmap_local(va);
		slot_va += chunk;
		phys += chunk;
		len -= chunk;
	}
}

/* Copy bytes [@start, @start + @len) of a mapping to or from its slot. */
static void iob_copy_range(struct iob_slot *slot, size_t start, size_t len,
			   bool to_slot)
{
	iob_copy(slot->va + slot->off + start, slot->orig + start, len,
		 to_slot);
}

/*
 * CPU cache maintenance for a non-coherent slot: what the CPU wrote to
 * [@start, @start + @len) of the slot must reach memory before the device
 * may read it, and what the device wrote must not be hidden by stale lines.
 * This covers the padding and the zeroing too, not only the data: an idle
 * slot stays mapped, so whatever it holds in memory the device can read.
 */
static void iob_maint(struct iommu_dma_bounce_pool *pool, struct iob_slot *slot,
		      size_t start, size_t len, enum dma_data_direction dir,
		      bool for_cpu)
{
	phys_addr_t phys = virt_to_phys(slot->va) + start;

	if (slot->coherent || !len)
		return;
	if (for_cpu)
		arch_sync_dma_for_cpu(phys, len, dir);
	else
		arch_sync_dma_for_device(phys, len, dir);
	this_cpu_inc(pool->pcpu->cache_maint);
}

/* Erase the first @nr granules of @slot from the lookup array. */
static void iob_erase(struct iommu_dma_bounce_pool *pool,
		      struct iob_slot *slot, unsigned long nr)
{
	unsigned long first = slot->iova >> pool->shift, i, flags;

	xa_lock_irqsave(&pool->slots, flags);
	for (i = 0; i < nr; i++)
		__xa_erase(&pool->slots, first + i);
	xa_unlock_irqrestore(&pool->slots, flags);
}

/*
 * Enter every IOVA granule of a new @slot in the lookup array. On failure
 * the caller releases the slot, which erases whatever was entered.
 */
static int iob_store(struct iommu_dma_bounce_pool *pool,
		     struct iob_slot *slot, gfp_t gfp)
{
	unsigned long first = slot->iova >> pool->shift, i, flags;
	int err = 0;

	/* Never sleep under the irq-safe lock: the nodes are small */
	gfp &= ~__GFP_DIRECT_RECLAIM;
	xa_lock_irqsave(&pool->slots, flags);
	for (i = 0; i < (1UL << slot->class) && !err; i++)
		err = xa_err(__xa_store(&pool->slots, first + i, slot, gfp));
	xa_unlock_irqrestore(&pool->slots, flags);
	return err;
}

/*
 * Slot memory. Below PAGE_SIZE (a 4 KiB granule with 64 KiB pages), kmalloc
 * gives power-of-two objects aligned to their size, so a slot is exactly
 * the granules it is mapped with and its neighbours are never exposed.
 */
static void *iob_alloc_mem(struct iommu_dma_bounce_pool *pool,
			   unsigned int class, gfp_t gfp)
{
	size_t size = iob_class_size(pool, class);
	struct page *page;

	if (size < PAGE_SIZE)
		return kmalloc_node(size, gfp | __GFP_ZERO, pool->nid);
	page = alloc_pages_node(pool->nid, gfp | __GFP_ZERO, get_order(size));
	return page ? page_address(page) : NULL;
}

static void iob_free_mem(struct iommu_dma_bounce_pool *pool, void *va,
			 unsigned int class)
{
	size_t size = iob_class_size(pool, class);

	if (size < PAGE_SIZE)
		kfree(va);
	else
		free_pages((unsigned long)va, get_order(size));
}

/*
 * Slots the IOMMU did not fully unmap: the device may still reach their
 * memory, so neither it nor the IOVA range may ever be reused. Keep both out
 * of circulation for good and say so; only the bookkeeping goes.
 */
static void iob_leak(struct iommu_dma_bounce_pool *pool, struct list_head *list)
{
	struct iob_slot *slot, *tmp;

	list_for_each_entry_safe(slot, tmp, list, node) {
		size_t size = iob_class_size(pool, slot->class);

		pr_warn_ratelimited("%s: IOMMU failed to unmap the slot at IOVA %pad; leaking its %zu bytes and IOVA range\n",
				    pool->name, &slot->iova, size);
		atomic_long_sub(size, &pool->bytes);
		atomic_long_dec(&pool->nr[slot->class]);
		atomic_long_add(size, &pool->leaked);
		list_del(&slot->node);
		kfree(slot);
	}
}

/*
 * Unmap and free a list of idle slots: one IOTLB sync for the whole batch,
 * and IOVA space given back only once that sync has completed.
 */
static unsigned long iob_release(struct iommu_dma_bounce_pool *pool,
				 struct list_head *list,
				 enum iob_release_reason why)
{
	struct iommu_iotlb_gather gather;
	struct iob_slot *slot, *tmp;
	unsigned long n = 0;
	LIST_HEAD(stuck);

	if (list_empty(list))
		return 0;

	iommu_iotlb_gather_init(&gather);
	list_for_each_entry_safe(slot, tmp, list, node) {
		size_t size = iob_class_size(pool, slot->class);

		iob_erase(pool, slot, 1UL << slot->class);
		if (pool->ops->unmap(pool->ctx, slot->iova, size, &gather) !=
		    size)
			list_move(&slot->node, &stuck);
	}
	pool->ops->sync(pool->ctx, &gather);
	atomic_long_inc(&pool->syncs);
	iob_leak(pool, &stuck);

	list_for_each_entry_safe(slot, tmp, list, node) {
		size_t size = iob_class_size(pool, slot->class);

		pool->ops->free_iova(pool->ctx, slot->iova, size);
		iob_free_mem(pool, slot->va, slot->class);
		atomic_long_sub(size, &pool->bytes);
		atomic_long_dec(&pool->nr[slot->class]);
		list_del(&slot->node);
		kfree(slot);
		n++;
	}
	trace_iommu_bounce_shrink(pool->name, n, why);
	return n;
}

/*
 * Create a slot for @class that fits @need, for @dev (NULL: any device of
 * the domain). With IOB_GFP_ATOMIC from any context, with GFP_KERNEL from
 * the worker. No pool lock is held: allocation and mapping happen unlocked.
 */
static struct iob_slot *iob_grow(struct iommu_dma_bounce_pool *pool,
				 struct device *dev, unsigned int class,
				 const struct iob_need *need, gfp_t gfp)
{
	size_t size = iob_class_size(pool, class);
	struct iob_slot *slot;
	long nr;

	if (atomic_long_add_return(size, &pool->bytes) >
	    READ_ONCE(pool->max_bytes)) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_CAP);
		goto undo_bytes;
	}

	slot = kzalloc_node(sizeof(*slot), gfp, pool->nid);
	if (!slot)
		goto nomem;
	/* Zeroed: a new slot must not show the device old kernel memory */
	slot->va = iob_alloc_mem(pool, class, gfp);
	if (!slot->va) {
		kfree(slot);
		goto nomem;
	}
	slot->class = class;
	slot->coherent = need->coherent;
	/* The zeroes must be in memory, not only in the CPU's cache */
	iob_maint(pool, slot, 0, size, DMA_TO_DEVICE, false);

	slot->iova = pool->ops->alloc_iova(pool->ctx, dev, size, need->limit);
	if (!slot->iova) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_IOVA);
		goto free_slot;
	}
	if (pool->ops->map(pool->ctx, slot->iova, virt_to_phys(slot->va), size,
			   IOMMU_READ | IOMMU_WRITE |
			   (need->coherent ? IOMMU_CACHE : 0), gfp)) {
		pool->ops->free_iova(pool->ctx, slot->iova, size);
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_MAP);
		goto free_slot;
	}

	if (iob_store(pool, slot, gfp)) {
		LIST_HEAD(one);

		/* Release it as a slot so the IOTLB is synced */
		atomic_long_inc(&pool->nr[class]);
		list_add(&slot->node, &one);
		iob_release(pool, &one, IOB_REL_TEARDOWN);
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_NOMEM);
		return NULL;
	}

	nr = atomic_long_inc_return(&pool->nr[class]);
	trace_iommu_bounce_grow(pool->name, size, slot->iova, nr);
	queue_delayed_work(system_unbound_wq, &pool->age_work, IOB_AGE_PERIOD);
	return slot;

free_slot:
	iob_free_mem(pool, slot->va, class);
	kfree(slot);
	goto undo_bytes;
nomem:
	iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_NOMEM);
undo_bytes:
	atomic_long_sub(size, &pool->bytes);
	return NULL;
}

static bool iob_fits(struct iommu_dma_bounce_pool *pool, struct iob_slot *slot,
		     const struct iob_need *need)
{
	return slot->iova + iob_class_size(pool, slot->class) - 1 <=
	       need->limit && slot->coherent == need->coherent;
}

/*
 * Move depot slots that fit @need to a CPU stack, up to half of it. Only
 * the first IOB_DEPOT_SCAN are looked at: slots of a wider mask that pile up
 * in front cost a narrow-mask device a new slot, never a long walk.
 */
static void iob_refill(struct iommu_dma_bounce_pool *pool, unsigned int class,
		       struct iob_cpu_cache *cc, const struct iob_need *need)
{
	struct iob_depot *depot = &pool->depot[class];
	struct iob_slot *slot, *tmp;
	unsigned int seen = 0;

	spin_lock(&depot->lock);
	list_for_each_entry_safe(slot, tmp, &depot->free, node) {
		if (cc->count >= IOB_MAG_BATCH || ++seen > IOB_DEPOT_SCAN)
			break;
		if (!iob_fits(pool, slot, need))
			continue;
		list_del(&slot->node);
		depot->count--;
		cc->slots[cc->count++] = slot;
	}
	spin_unlock(&depot->lock);
}

/* Move the @nr oldest slots of a CPU stack to the depot. */
static void iob_spill(struct iommu_dma_bounce_pool *pool, unsigned int class,
		      struct iob_cpu_cache *cc, unsigned int nr)
{
	struct iob_depot *depot = &pool->depot[class];
	unsigned int i;

	spin_lock(&depot->lock);
	for (i = 0; i < nr; i++)
		list_add(&cc->slots[i]->node, &depot->free);
	depot->count += nr;
	spin_unlock(&depot->lock);

	cc->count -= nr;
	memmove(cc->slots, cc->slots + nr, cc->count * sizeof(cc->slots[0]));
}

/* The newest slot of a CPU stack that fits @need, taken off it. */
static struct iob_slot *iob_pop(struct iommu_dma_bounce_pool *pool,
				struct iob_cpu_cache *cc,
				const struct iob_need *need)
{
	struct iob_slot *slot;
	unsigned int i;

	for (i = cc->count; i-- > 0;) {
		slot = cc->slots[i];
		if (!iob_fits(pool, slot, need))
			continue;
		cc->count--;
		memmove(cc->slots + i, cc->slots + i + 1,
			(cc->count - i) * sizeof(cc->slots[0]));
		cc->last_used = jiffies;
		return slot;
	}
	return NULL;
}

/* An idle slot from this CPU's stack (refilled from the depot), or NULL. */
static struct iob_slot *iob_take(struct iommu_dma_bounce_pool *pool,
				 unsigned int class,
				 const struct iob_need *need)
{
	struct iob_cpu_cache *cc;
	struct iob_slot *slot;
	unsigned long flags;

	cc = &raw_cpu_ptr(pool->pcpu)->cache[class];
	spin_lock_irqsave(&cc->lock, flags);
	slot = iob_pop(pool, cc, need);
	if (!slot && cc->count < IOB_MAG_BATCH) {
		iob_refill(pool, class, cc, need);
		slot = iob_pop(pool, cc, need);
	}
	spin_unlock_irqrestore(&cc->lock, flags);
	return slot;
}

/*
 * Move half of the idle slots of @class that another CPU keeps to the depot.
 * The CPU that completes I/O (and unmaps) is often not the one that submits
 * it (and maps): without this, its stack would hold idle slots while the
 * submitting CPU grows new ones, and the pool would outgrow the DMA in
 * flight by up to a stack per CPU. Only called instead of growing. Takes one
 * stack lock at a time, so the usual order (stack, then depot) holds.
 *
 * Return: true if slots were moved.
 */
static bool iob_steal(struct iommu_dma_bounce_pool *pool, unsigned int class)
{
	int cpu, self = raw_smp_processor_id();
	bool moved = false;

	for_each_online_cpu(cpu) {
		struct iob_cpu_cache *cc;
		unsigned long flags;

		cc = &per_cpu_ptr(pool->pcpu, cpu)->cache[class];
		if (cpu == self || !READ_ONCE(cc->count))
			continue;
		spin_lock_irqsave(&cc->lock, flags);
		if (cc->count) {
			iob_spill(pool, class, cc, DIV_ROUND_UP(cc->count, 2));
			moved = true;
		}
		spin_unlock_irqrestore(&cc->lock, flags);
		if (moved)
			break;
	}
	return moved;
}

/* A reserve slot that fits @need, for a mapping that must bounce. */
static struct iob_slot *iob_take_reserve(struct iommu_dma_bounce_pool *pool,
					 unsigned int class,
					 const struct iob_need *need)
{
	struct iob_depot *depot = &pool->depot[class];
	struct iob_slot *slot, *found = NULL;
	unsigned long flags;

	spin_lock_irqsave(&depot->lock, flags);
	list_for_each_entry(slot, &depot->reserve, node) {
		if (iob_fits(pool, slot, need)) {
			list_del(&slot->node);
			depot->reserved--;
			found = slot;
			break;
		}
	}
	spin_unlock_irqrestore(&depot->lock, flags);
	return found;
}

/* The last IOVA granule wholly at or below @limit, capped at 4 GiB */
static unsigned long iob_last_granule(struct iommu_dma_bounce_pool *pool,
				      u64 limit)
{
	/* Below 4 GiB, so it fits an unsigned long on 32-bit too */
	unsigned long end = (min_t(u64, limit, IOB_RESERVE_LIMIT) + 1) >>
			    pool->shift;

	return end ? end - 1 : 0;
}

/*
 * Lower the reserve's limit to @limit's last granule if that is below it.
 * Return: true if it was lowered.
 */
static bool iob_lower_reserve_limit(struct iommu_dma_bounce_pool *pool,
				    u64 limit)
{
	unsigned long want = iob_last_granule(pool, limit);
	unsigned long old = READ_ONCE(pool->reserve_limit);

	do {
		if (want >= old)
			return false;
	} while (!try_cmpxchg(&pool->reserve_limit, &old, want));
	return true;
}

static struct iob_slot *iob_get(struct iommu_dma_bounce_pool *pool,
				struct device *dev, unsigned int class,
				const struct iob_need *need, bool force)
{
	struct iob_slot *slot = iob_take(pool, class, need);
	bool lowered;

	if (!slot && iob_steal(pool, class))
		slot = iob_take(pool, class, need);
	if (!slot)
		slot = iob_grow(pool, dev, class, need, IOB_GFP_ATOMIC);
	if (!force)
		return slot;
	if (!slot)
		slot = iob_take_reserve(pool, class, need);
	lowered = iob_lower_reserve_limit(pool, need->limit);
	if (lowered || READ_ONCE(pool->reserve_coherent) != need->coherent) {
		/* The worker remakes the reserve for this mapping */
		WRITE_ONCE(pool->reserve_coherent, need->coherent);
		queue_work(system_unbound_wq, &pool->work);
	}
	/*
	 * From the first mapping of a class that must bounce on, keep the
	 * class's reserve full. At the cap this queues the worker often, to
	 * fail fast: that is when mappings that must bounce fail anyway.
	 */
	if (READ_ONCE(pool->depot[class].reserved) < IOB_RESERVE) {
		if (!test_bit(class, &pool->reserve))
			set_bit(class, &pool->reserve);
		queue_work(system_unbound_wq, &pool->work);
	}
	return slot;
}

static void iob_put(struct iommu_dma_bounce_pool *pool, struct iob_slot *slot)
{
	struct iob_cpu_cache *cc;
	unsigned long flags;

	/* Back idle in an untrusted domain, it must hold nothing */
	if ((slot->flags & IOB_SLOT_DIRTY) && READ_ONCE(pool->untrusted)) {
		memset(slot->va, 0, iob_class_size(pool, slot->class));
		iob_maint(pool, slot, 0, iob_class_size(pool, slot->class),
			  DMA_TO_DEVICE, false);
	}
	slot->flags = 0;
	slot->last_used = jiffies;
	cc = &raw_cpu_ptr(pool->pcpu)->cache[slot->class];
	spin_lock_irqsave(&cc->lock, flags);
	if (cc->count == IOB_MAG_SIZE)
		iob_spill(pool, slot->class, cc, IOB_MAG_BATCH);
	cc->slots[cc->count++] = slot;
	cc->last_used = slot->last_used;
	spin_unlock_irqrestore(&cc->lock, flags);
}

/* Find the slot mapped at @dma, or NULL if @dma is not a bounce address. */
static struct iob_slot *iob_lookup(struct iommu_dma_bounce_pool *pool,
				   dma_addr_t dma)
{
	if (!pool || !atomic_long_read(&pool->bytes))
		return NULL;
	return xa_load(&pool->slots, dma >> pool->shift);
}

static void iob_need_of(struct iommu_dma_bounce_pool *pool,
			struct device *dev, struct iob_need *need)
{
	need->limit = min_not_zero(dma_get_mask(dev), dev->bus_dma_limit);
	/* A pool made non-coherent (by KUnit) treats every device so */
	need->coherent = dev_is_dma_coherent(dev) &&
			 !(pool->flags & IOMMU_DMA_BOUNCE_POOL_NONCOHERENT);
}

/*
 * Keep IOB_RESERVE slots per class for mappings that must bounce, made for
 * the coherency of the last of them and below the narrowest DMA limit of
 * them all. Slots that do not fit that are released first, so that their
 * memory does not count against the cap their replacements must fit in.
 */
static void iob_fill_reserve(struct iommu_dma_bounce_pool *pool)
{
	u64 end = (u64)READ_ONCE(pool->reserve_limit) + 1;
	struct iob_need need = {
		.limit = (end << pool->shift) - 1,
		.coherent = READ_ONCE(pool->reserve_coherent),
	};
	struct iob_slot *slot, *tmp;
	unsigned int class;
	unsigned long flags;
	LIST_HEAD(stale);

	for_each_set_bit(class, &pool->reserve, IOB_NR_CLASSES) {
		struct iob_depot *depot = &pool->depot[class];

		spin_lock_irqsave(&depot->lock, flags);
		list_for_each_entry_safe(slot, tmp, &depot->reserve, node) {
			if (iob_fits(pool, slot, &need))
				continue;
			list_move(&slot->node, &stale);
			depot->reserved--;
		}
		spin_unlock_irqrestore(&depot->lock, flags);
	}
	iob_release(pool, &stale, IOB_REL_RESERVE);

	for_each_set_bit(class, &pool->reserve, IOB_NR_CLASSES) {
		struct iob_depot *depot = &pool->depot[class];

		while (READ_ONCE(depot->reserved) < IOB_RESERVE) {
			slot = iob_grow(pool, NULL, class, &need, GFP_KERNEL);
			if (!slot)
				break;
			spin_lock_irqsave(&depot->lock, flags);
			list_add(&slot->node, &depot->reserve);
			depot->reserved++;
			spin_unlock_irqrestore(&depot->lock, flags);
		}
	}
}

/* Process-context work of a pool */
static void iob_work(struct work_struct *work)
{
	struct iommu_dma_bounce_pool *pool =
		container_of(work, struct iommu_dma_bounce_pool, work);

	iob_fill_reserve(pool);
}

/**
 * iommu_dma_bounce_wanted - does the pool's mode bounce this for speed?
 * @pool: the domain's pool, may be NULL
 * @size: length of the mapping
 * @attrs: DMA_ATTR_* of the mapping
 *
 * DMA_ATTR_SKIP_CPU_SYNC marks a mapping its driver keeps for long and syncs
 * in parts, or not at all (page_pool's pages, GPU buffers): bounced, it would
 * hold a slot for as long as it lives, copy on every sync and show the CPU
 * stale data where the driver skips a sync. It is the documented way for a
 * driver to stay off the speed path; privileged mappings stay off it too.
 *
 * Return: true if the mapping should be tried in the pool.
 */
bool iommu_dma_bounce_wanted(struct iommu_dma_bounce_pool *pool, size_t size,
			     unsigned long attrs)
{
	int mode;

	if (!pool || (attrs & DMA_ATTR_PRIVILEGED))
		return false;
	mode = READ_ONCE(pool->mode);
	if (mode == IOMMU_DMA_BOUNCE_AUTO)
		mode = pool->flags & IOMMU_DMA_BOUNCE_POOL_COSTLY ?
		       IOMMU_DMA_BOUNCE_ON : IOMMU_DMA_BOUNCE_OFF;
	if (mode != IOMMU_DMA_BOUNCE_ON || size > READ_ONCE(pool->threshold))
		return false;
	/* Counted: how many mappings the opt-out kept off the speed path */
	if (attrs & DMA_ATTR_SKIP_CPU_SYNC) {
		atomic_long_inc(&pool->fallbacks[IOMMU_DMA_BOUNCE_FB_SKIP_SYNC]);
		return false;
	}
	return true;
}

/*
 * Take a slot for a mapping of @size bytes from @phys, or say why not.
 * Return: the slot, with @off set, or NULL.
 */
static struct iob_slot *iob_start(struct iommu_dma_bounce_pool *pool,
				  struct device *dev, phys_addr_t phys,
				  size_t size, unsigned long attrs,
				  unsigned int flags)
{
	bool force = flags & IOMMU_DMA_BOUNCE_FORCE;
	struct iob_slot *slot;
	struct iob_need need;
	int class;

	class = iob_class(pool->granule, phys, size);
	if (class < 0) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_TOO_LARGE);
		return NULL;
	}
	/* A privileged mapping must not share slots mapped unprivileged */
	if (attrs & DMA_ATTR_PRIVILEGED) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_ATTRS);
		return NULL;
	}
	if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) && !force) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_SKIP_SYNC);
		return NULL;
	}
	/* Peer memory is not the CPU's to copy for speed */
	if (!force && is_pci_p2pdma_page(pfn_to_page(PHYS_PFN(phys)))) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_ATTRS);
		return NULL;
	}
	iob_need_of(pool, dev, &need);
	slot = iob_get(pool, dev, class, &need, force);
	if (slot)
		slot->off = phys & (pool->granule - 1);
	return slot;
}

/*
 * Fill a slot taken by iob_start() with @len bytes of data: zero the rest in
 * an untrusted domain, copy, and make it all visible to the device.
 */
static void iob_fill(struct iommu_dma_bounce_pool *pool, struct device *dev,
		     struct iob_slot *slot, size_t len,
		     enum dma_data_direction dir, unsigned int flags)
{
	size_t end = slot->off + len, size = iob_class_size(pool, slot->class);

	slot->len = len;
	/* Untrusted: the domain is, or (set at run time) the device is */
	slot->flags = IOB_SLOT_DIRTY;
	if (READ_ONCE(pool->untrusted) || (flags & IOMMU_DMA_BOUNCE_UNTRUSTED)) {
		slot->flags = IOB_SLOT_CLEAR;
		memset(slot->va, 0, slot->off);
		memset(slot->va + end, 0, size - end);
		iob_maint(pool, slot, 0, slot->off, DMA_TO_DEVICE, false);
		iob_maint(pool, slot, end, size - end, DMA_TO_DEVICE, false);
	}
	iob_copy_range(slot, 0, len, true);
	/* Cleaned, never invalidated: the copy-in is the tail of a short write */
	iob_maint(pool, slot, slot->off, len, DMA_TO_DEVICE, false);
	/* Syncs must now reach us even for a coherent device */
	dma_reset_need_sync(dev);
	iob_count_map(pool, len);
}

/**
 * iommu_dma_bounce_map - map a buffer through a bounce slot
 * @pool: the domain's pool
 * @dev: device doing DMA
 * @phys: buffer to map
 * @size: its length
 * @dir: DMA direction
 * @attrs: DMA_ATTR_* of the mapping
 * @flags: IOMMU_DMA_BOUNCE_FORCE if dma-iommu has no other way to map it
 *
 * Copies the buffer into a slot for every direction (see the top of this
 * file) and returns the slot's address. May be called from atomic context.
 *
 * Return: the DMA address, or DMA_MAPPING_ERROR when the pool cannot serve
 * the mapping. Without IOMMU_DMA_BOUNCE_FORCE the caller then maps it the
 * normal way; with it, the mapping has failed, and that is reported.
 */
dma_addr_t iommu_dma_bounce_map(struct iommu_dma_bounce_pool *pool,
				struct device *dev, phys_addr_t phys,
				size_t size, enum dma_data_direction dir,
				unsigned long attrs, unsigned int flags)
{
	struct iob_slot *slot;

	slot = pool ? iob_start(pool, dev, phys, size, attrs, flags) : NULL;
	if (!slot) {
		if (flags & IOMMU_DMA_BOUNCE_FORCE) {
			if (pool)
				atomic_long_inc(&pool->failed);
			if (!(attrs & DMA_ATTR_NO_WARN))
				dev_warn_ratelimited(dev, "cannot bounce %zu bytes: mapping failed\n",
						     size);
		}
		return DMA_MAPPING_ERROR;
	}
	slot->orig = phys;
	iob_fill(pool, dev, slot, size, dir, flags);
	trace_iommu_bounce_map(dev, phys, slot->iova + slot->off, size);
	return slot->iova + slot->off;
}

/* The end of a bounced mapping: copy back, clear, return the slot. */
static void iob_finish(struct iommu_dma_bounce_pool *pool, struct device *dev,
		       struct iob_slot *slot, enum dma_data_direction dir,
		       unsigned long attrs)
{
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
	    (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)) {
		iob_maint(pool, slot, slot->off, slot->len, dir, true);
		iob_copy_range(slot, 0, slot->len, false);
	}
	if (slot->flags & IOB_SLOT_CLEAR) {
		memset(slot->va + slot->off, 0, slot->len);
		iob_maint(pool, slot, slot->off, slot->len, DMA_TO_DEVICE,
			  false);
	}
	trace_iommu_bounce_unmap(dev, slot->iova + slot->off, slot->len);
	/* @slot may be reused or freed as soon as it is back */
	iob_put(pool, slot);
}

/**
 * iommu_dma_bounce_unmap - end a mapping if it is a bounced one
 * @pool: the domain's pool, may be NULL
 * @dev: device doing DMA
 * @dma: address returned by iommu_dma_bounce_map()
 * @size: length of the mapping
 * @dir: DMA direction
 * @attrs: DMA_ATTR_* of the mapping
 *
 * Return: false if @dma is not a bounce slot, so the caller unmaps it.
 */
bool iommu_dma_bounce_unmap(struct iommu_dma_bounce_pool *pool,
			    struct device *dev, dma_addr_t dma, size_t size,
			    enum dma_data_direction dir, unsigned long attrs)
{
	struct iob_slot *slot = iob_lookup(pool, dma);

	if (!slot)
		return false;
	/* Anything else would be a driver bug: never unmap a slot. */
	if (dev_WARN_ONCE(dev, dma != slot->iova + slot->off ||
			  size != slot->len,
			  "bad unmap of bounced DMA address %pad size %zu\n",
			  &dma, size))
		return true;
	iob_finish(pool, dev, slot, dir, attrs);
	return true;
}

/* Hand bytes [@start, @start + @size) of a mapping to the CPU or device. */
static void iob_sync(struct iommu_dma_bounce_pool *pool, struct iob_slot *slot,
		     size_t start, size_t size, enum dma_data_direction dir,
		     bool for_cpu)
{
	if (for_cpu) {
		if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL) {
			iob_maint(pool, slot, slot->off + start, size, dir,
				  true);
			iob_copy_range(slot, start, size, false);
		}
	} else {
		if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL)
			iob_copy_range(slot, start, size, true);
		/* As dma-direct: no dirty line may land on the device's data */
		iob_maint(pool, slot, slot->off + start, size, dir, false);
	}
}

/**
 * iommu_dma_bounce_sync - sync part of a bounced mapping
 * @pool: the domain's pool, may be NULL
 * @dev: device doing DMA
 * @dma: start of the range to sync
 * @size: its length
 * @dir: DMA direction
 * @for_cpu: true to hand the range to the CPU, false to the device
 *
 * Return: false if @dma is not a bounce slot.
 */
bool iommu_dma_bounce_sync(struct iommu_dma_bounce_pool *pool,
			   struct device *dev, dma_addr_t dma, size_t size,
			   enum dma_data_direction dir, bool for_cpu)
{
	struct iob_slot *slot = iob_lookup(pool, dma);
	size_t start;

	if (!slot)
		return false;
	start = dma - slot->iova - slot->off;
	if (dev_WARN_ONCE(dev, dma < slot->iova + slot->off ||
			  start + size > slot->len,
			  "bad sync of bounced DMA address %pad size %zu\n",
			  &dma, size))
		return true;
	iob_sync(pool, slot, start, size, dir, for_cpu);
	return true;
}

/**
 * iommu_dma_bounce_map_sg - bounce a one-entry scatterlist for speed
 * @pool: the domain's pool, may be NULL
 * @dev: device doing DMA
 * @sgl: the list
 * @nents: its number of entries
 * @dir: DMA direction
 * @attrs: DMA_ATTR_* of the mapping
 *
 * Only a list of one entry: dma-iommu merges the entries of a longer list
 * into fewer segments, which drivers count on (mmc asks for more segments
 * than its host takes), and slots cannot be merged. The list is marked so
 * that dma-iommu syncs and unmaps it entry by entry, as a list that must
 * bounce.
 *
 * Return: 1 if the list was bounced, 0 if the caller must map it.
 */
int iommu_dma_bounce_map_sg(struct iommu_dma_bounce_pool *pool,
			    struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	dma_addr_t dma;

	if (nents != 1 || !iommu_dma_bounce_wanted(pool, sgl->length, attrs))
		return 0;
	dma = iommu_dma_bounce_map(pool, dev, sg_phys(sgl), sgl->length, dir,
				   attrs, 0);
	if (dma == DMA_MAPPING_ERROR)
		return 0;
	sg_dma_address(sgl) = dma;
	sg_dma_len(sgl) = sgl->length;
	sg_dma_mark_swiotlb(sgl);
	return 1;
}

/* Move the idle slots of every CPU stack of @class to the depot. */
static void iob_drain_cpus(struct iommu_dma_bounce_pool *pool,
			   unsigned int class, unsigned long now, bool all)
{
	unsigned long flags;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct iob_cpu_cache *cc;

		cc = &per_cpu_ptr(pool->pcpu, cpu)->cache[class];
		spin_lock_irqsave(&cc->lock, flags);
		if (cc->count &&
		    (all || time_after_eq(now, cc->last_used + IOB_IDLE_TIME)))
			iob_spill(pool, class, cc, cc->count);
		spin_unlock_irqrestore(&cc->lock, flags);
	}
}

/*
 * Move up to @nr depot slots of every class to @victims, oldest first; with
 * @now, only those idle for IOB_IDLE_TIME. CPU stacks are drained first:
 * with @now, those untouched for IOB_IDLE_TIME; without, all of them.
 */
static unsigned long iob_collect(struct iommu_dma_bounce_pool *pool,
				 unsigned long now, unsigned long nr,
				 struct list_head *victims)
{
	struct iob_slot *slot, *tmp;
	unsigned long flags, n = 0;
	unsigned int class;

	for (class = 0; class < IOB_NR_CLASSES && n < nr; class++) {
		struct iob_depot *depot = &pool->depot[class];

		iob_drain_cpus(pool, class, now, !now);
		spin_lock_irqsave(&depot->lock, flags);
		list_for_each_entry_safe_reverse(slot, tmp, &depot->free,
						 node) {
			if (n == nr)
				break;
			if (now && time_before(now, slot->last_used +
					       IOB_IDLE_TIME))
				continue;
			list_move(&slot->node, victims);
			depot->count--;
			n++;
		}
		spin_unlock_irqrestore(&depot->lock, flags);
	}
	return n;
}

/*
 * Free the slots idle for IOB_IDLE_TIME at @now (a parameter so that tests
 * can move it); a CPU stack untouched that long goes to the depot first.
 * The reserve is kept. Process context. Return: the number freed.
 */
static unsigned long iob_age(struct iommu_dma_bounce_pool *pool,
			     unsigned long now)
{
	LIST_HEAD(victims);
	unsigned long n;

	iob_collect(pool, now ?: 1, ULONG_MAX, &victims);
	n = iob_release(pool, &victims, IOB_REL_AGING);
	atomic_long_add(n, &pool->freed_aging);
	return n;
}

/*
 * Free up to @nr idle slots, oldest first; the reserve is kept. Process
 * context. Return: the number freed.
 */
static unsigned long iob_shrink(struct iommu_dma_bounce_pool *pool,
				unsigned long nr)
{
	LIST_HEAD(victims);
	unsigned long n;

	iob_collect(pool, 0, nr, &victims);
	n = iob_release(pool, &victims, IOB_REL_SHRINKER);
	atomic_long_add(n, &pool->freed_shrinker);
	return n;
}

static void iob_age_work(struct work_struct *work)
{
	struct iommu_dma_bounce_pool *pool =
		container_of(to_delayed_work(work), struct iommu_dma_bounce_pool,
			     age_work);
	unsigned long reserved = 0;
	unsigned int class;

	iob_age(pool, jiffies);
	/* Until only the reserve, which aging keeps, is left */
	for (class = 0; class < IOB_NR_CLASSES; class++)
		reserved += READ_ONCE(pool->depot[class].reserved) *
			    iob_class_size(pool, class);
	if (atomic_long_read(&pool->bytes) > reserved)
		queue_delayed_work(system_unbound_wq, &pool->age_work,
				   IOB_AGE_PERIOD);
}

/*
 * A snapshot of a pool's counters, read without locks: a spill to the depot
 * may be counted twice for a moment.
 */
static void iob_get_stats(struct iommu_dma_bounce_pool *pool,
			  struct iommu_dma_bounce_stats *st)
{
	unsigned int class, i;
	int cpu;

	memset(st, 0, sizeof(*st));
	for (class = 0; class < IOB_NR_CLASSES; class++) {
		st->slots[class] = atomic_long_read(&pool->nr[class]);
		st->free[class] = READ_ONCE(pool->depot[class].count);
		st->reserve[class] = READ_ONCE(pool->depot[class].reserved);
	}
	for_each_possible_cpu(cpu) {
		struct iob_pcpu *p = per_cpu_ptr(pool->pcpu, cpu);

		for (class = 0; class < IOB_NR_CLASSES; class++)
			st->free[class] += READ_ONCE(p->cache[class].count);
		st->maps += p->maps;
		st->maps_softirq += p->maps_softirq;
		st->maps_hardirq += p->maps_hardirq;
		st->bytes_bounced += p->bytes_bounced;
		st->cache_maint += p->cache_maint;
	}
	for (i = 0; i < IOMMU_DMA_BOUNCE_NR_FALLBACKS; i++)
		st->fallbacks[i] = atomic_long_read(&pool->fallbacks[i]);
	st->bytes = atomic_long_read(&pool->bytes);
	st->failed = atomic_long_read(&pool->failed);
	st->freed_aging = atomic_long_read(&pool->freed_aging);
	st->freed_shrinker = atomic_long_read(&pool->freed_shrinker);
	st->syncs = atomic_long_read(&pool->syncs);
	st->leaked = atomic_long_read(&pool->leaked);
}

/* Idle slots, reserve not included: the shrinker's count, read racily */
static unsigned long iob_idle_slots(struct iommu_dma_bounce_pool *pool)
{
	unsigned long n = 0;
	unsigned int class;
	int cpu;

	for (class = 0; class < IOB_NR_CLASSES; class++) {
		n += READ_ONCE(pool->depot[class].count);
		for_each_possible_cpu(cpu)
			n += READ_ONCE(per_cpu_ptr(pool->pcpu,
						   cpu)->cache[class].count);
	}
	return n;
}

static unsigned long iob_shrink_count(struct shrinker *shrink,
				      struct shrink_control *sc)
{
	struct iommu_dma_bounce_pool *pool;
	unsigned long n = 0;

	if (!mutex_trylock(&iob_pools_lock))
		return 0;
	list_for_each_entry(pool, &iob_pools, node)
		n += iob_idle_slots(pool);
	mutex_unlock(&iob_pools_lock);
	return n ? n : SHRINK_EMPTY;
}

static unsigned long iob_shrink_scan(struct shrinker *shrink,
				     struct shrink_control *sc)
{
	struct iommu_dma_bounce_pool *pool;
	unsigned long n = 0;

	if (!mutex_trylock(&iob_pools_lock))
		return SHRINK_STOP;
	list_for_each_entry(pool, &iob_pools, node) {
		if (n >= sc->nr_to_scan)
			break;
		n += iob_shrink(pool, sc->nr_to_scan - n);
	}
	mutex_unlock(&iob_pools_lock);
	return n ? n : SHRINK_STOP;
}

static int iob_stats_show(struct seq_file *m, void *v)
{
	struct iommu_dma_bounce_pool *pool = m->private;
	struct iommu_dma_bounce_stats st;
	unsigned int class, i;

	iob_get_stats(pool, &st);
	seq_printf(m, "mode: %s\n", iob_mode_names[READ_ONCE(pool->mode)]);
	seq_printf(m, "costly_flush: %d\n",
		   !!(pool->flags & IOMMU_DMA_BOUNCE_POOL_COSTLY));
	seq_printf(m, "threshold: %zu\n", READ_ONCE(pool->threshold));
	seq_printf(m, "max_bytes: %zu\n", READ_ONCE(pool->max_bytes));
	seq_printf(m, "granule: %lu\n", pool->granule);
	seq_printf(m, "untrusted: %d\n", READ_ONCE(pool->untrusted));
	seq_printf(m, "bytes: %lu\n", st.bytes);
	seq_printf(m, "maps: %lu\n", st.maps);
	seq_printf(m, "maps_softirq: %lu\n", st.maps_softirq);
	seq_printf(m, "maps_hardirq: %lu\n", st.maps_hardirq);
	seq_printf(m, "bytes_bounced: %lu\n", st.bytes_bounced);
	seq_printf(m, "cache_maint: %lu\n", st.cache_maint);
	for (i = 0; i < IOMMU_DMA_BOUNCE_NR_FALLBACKS; i++)
		seq_printf(m, "fallback_%s: %lu\n", iob_fallback_names[i],
			   st.fallbacks[i]);
	seq_printf(m, "failed: %lu\n", st.failed);
	seq_printf(m, "freed_aging: %lu\n", st.freed_aging);
	seq_printf(m, "freed_shrinker: %lu\n", st.freed_shrinker);
	seq_printf(m, "iotlb_syncs: %lu\n", st.syncs);
	seq_printf(m, "leaked_bytes: %lu\n", st.leaked);
	for (class = 0; class < IOB_NR_CLASSES; class++) {
		size_t size = iob_class_size(pool, class);
		unsigned long idle = st.free[class] + st.reserve[class];

		seq_printf(m, "slots_%zu: %lu\n", size, st.slots[class]);
		seq_printf(m, "in_use_%zu: %lu\n", size,
			   st.slots[class] - min(st.slots[class], idle));
		/*
		 * Unclamped, unlike in_use: with no DMA in flight, more idle
		 * slots than slots on every read means a slot sits on two
		 * free lists at once.
		 */
		seq_printf(m, "idle_%zu: %lu\n", size, st.free[class]);
		seq_printf(m, "reserve_%zu: %lu\n", size, st.reserve[class]);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(iob_stats);

static void iob_debugfs_add(struct iommu_dma_bounce_pool *pool)
{
	static atomic_t seq = ATOMIC_INIT(0);
	struct dentry *dir;
	char name[sizeof(pool->name) + 12];

	if (!iob_debugfs_root)
		return;
	/* A group's new default domain may appear before the old one goes */
	dir = debugfs_lookup(pool->name, iob_debugfs_root);
	if (dir) {
		dput(dir);
		snprintf(name, sizeof(name), "%s.%d", pool->name,
			 atomic_inc_return(&seq));
	} else {
		strscpy(name, pool->name, sizeof(name));
	}
	pool->debugfs = debugfs_create_dir(name, iob_debugfs_root);
	debugfs_create_file("stats", 0444, pool->debugfs, pool,
			    &iob_stats_fops);
}

/* Set a pool's policy; the threshold is clamped to the largest slot. */
static void iob_set_policy(struct iommu_dma_bounce_pool *pool,
			   enum iommu_dma_bounce_mode mode, size_t threshold,
			   size_t max_bytes)
{
	WRITE_ONCE(pool->mode, mode);
	WRITE_ONCE(pool->threshold, min(threshold, iob_max_slot(pool)));
	WRITE_ONCE(pool->max_bytes, max_bytes);
}

/*
 * A real domain, set up by dma-iommu: IOVA space from its allocator, below
 * 4 GiB first where dma-iommu would try that too, and its page tables.
 */
static dma_addr_t iob_dom_alloc_iova(void *ctx, struct device *dev,
				     size_t size, u64 limit)
{
	struct iommu_dma_bounce_pool *pool = ctx;
	struct iommu_domain *domain = pool->domain;
	unsigned long n = size >> pool->shift, pfn = 0;

	if (domain->geometry.force_aperture)
		limit = min_t(u64, limit, domain->geometry.aperture_end);
	if (dev && dev->iommu->pci_32bit_workaround &&
	    limit > DMA_BIT_MASK(32))
		pfn = alloc_iova_fast(pool->iovad, n,
				      DMA_BIT_MASK(32) >> pool->shift, false);
	/* Only the worker (no @dev) may flush every CPU's IOVA cache */
	if (!pfn)
		pfn = alloc_iova_fast(pool->iovad, n, limit >> pool->shift,
				      !dev);
	return (dma_addr_t)pfn << pool->shift;
}

static void iob_dom_free_iova(void *ctx, dma_addr_t iova, size_t size)
{
	struct iommu_dma_bounce_pool *pool = ctx;

	free_iova_fast(pool->iovad, iova >> pool->shift, size >> pool->shift);
}

#define IOB_DOMAIN(ctx)	(((struct iommu_dma_bounce_pool *)(ctx))->domain)

static int iob_dom_map(void *ctx, dma_addr_t iova, phys_addr_t phys,
		       size_t size, int prot, gfp_t gfp)
{
	return iommu_map(IOB_DOMAIN(ctx), iova, phys, size, prot, gfp);
}

static size_t iob_dom_unmap(void *ctx, dma_addr_t iova, size_t size,
			    struct iommu_iotlb_gather *gather)
{
	return iommu_unmap_fast(IOB_DOMAIN(ctx), iova, size, gather);
}

static void iob_dom_sync(void *ctx, struct iommu_iotlb_gather *gather)
{
	iommu_iotlb_sync(IOB_DOMAIN(ctx), gather);
}

static const struct iommu_dma_bounce_ops iob_domain_ops = {
	.alloc_iova	= iob_dom_alloc_iova,
	.free_iova	= iob_dom_free_iova,
	.map		= iob_dom_map,
	.unmap		= iob_dom_unmap,
	.sync		= iob_dom_sync,
};

/*
 * A pool on the domain that @ops and @ctx reach (a fake one for KUnit), of
 * IOVA @granule, with IOMMU_DMA_BOUNCE_POOL_* @flags. It takes no IOVA space
 * and no memory for slots until the first mapping. iob_pool_publish() then
 * shows it to debugfs and the shrinker.
 */
static struct iommu_dma_bounce_pool *
iob_pool_alloc(const struct iommu_dma_bounce_ops *ops, void *ctx,
	       unsigned long granule, int nid, unsigned int flags,
	       const char *name)
{
	struct iommu_dma_bounce_pool *pool;
	unsigned int class;
	int cpu;

	pool = kzalloc_node(sizeof(*pool), GFP_KERNEL, nid);
	if (!pool)
		goto nomem;
	pool->pcpu = alloc_percpu(struct iob_pcpu);
	if (!pool->pcpu) {
		kfree(pool);
		goto nomem;
	}
	for_each_possible_cpu(cpu)
		for (class = 0; class < IOB_NR_CLASSES; class++)
			spin_lock_init(&per_cpu_ptr(pool->pcpu,
						    cpu)->cache[class].lock);
	for (class = 0; class < IOB_NR_CLASSES; class++) {
		spin_lock_init(&pool->depot[class].lock);
		INIT_LIST_HEAD(&pool->depot[class].free);
		INIT_LIST_HEAD(&pool->depot[class].reserve);
	}
	xa_init_flags(&pool->slots, XA_FLAGS_LOCK_IRQ);
	INIT_DELAYED_WORK(&pool->age_work, iob_age_work);
	INIT_WORK(&pool->work, iob_work);
	pool->ops = ops;
	pool->ctx = ctx;
	pool->granule = granule;
	pool->shift = ilog2(granule);
	pool->nid = nid;
	pool->flags = flags;
	pool->untrusted = flags & IOMMU_DMA_BOUNCE_POOL_UNTRUSTED;
	pool->reserve_limit = iob_last_granule(pool, IOB_RESERVE_LIMIT);
	strscpy(pool->name, name, sizeof(pool->name));
	iob_set_policy(pool, iob_default_mode, iob_default_threshold,
		       iob_default_max_bytes);
	return pool;

nomem:
	pr_warn("%s: no memory for a bounce pool\n", name);
	return NULL;
}

static void iob_pool_publish(struct iommu_dma_bounce_pool *pool)
{
	iob_debugfs_add(pool);
	mutex_lock(&iob_pools_lock);
	list_add(&pool->node, &iob_pools);
	mutex_unlock(&iob_pools_lock);
}

/**
 * iommu_dma_bounce_pool_create - create the bounce pool of a DMA domain
 * @domain: the domain
 * @iovad: its IOVA allocator
 * @dev: the first device to use the domain
 *
 * Unless iommu.bounce= says otherwise, the pool bounces for speed ("auto")
 * only when the IOMMU driver says its invalidations are costly.
 *
 * Return: the pool, or NULL.
 */
struct iommu_dma_bounce_pool *
iommu_dma_bounce_pool_create(struct iommu_domain *domain,
			     struct iova_domain *iovad, struct device *dev)
{
	struct iommu_dma_bounce_pool *pool;
	char name[16];

	/* Named after the first group using the domain, for debugfs */
	snprintf(name, sizeof(name), "group%d",
		 dev->iommu_group ? iommu_group_id(dev->iommu_group) : -1);
	pool = iob_pool_alloc(&iob_domain_ops, NULL, iovad->granule,
			      dev_to_node(dev), dev->iommu->costly_flush ?
			      IOMMU_DMA_BOUNCE_POOL_COSTLY : 0, name);
	if (!pool)
		return NULL;
	pool->ctx = pool;
	pool->domain = domain;
	pool->iovad = iovad;
	iob_pool_publish(pool);
	return pool;
}

/**
 * iommu_dma_bounce_add_device - a device starts using the pool's domain
 * @pool: the pool, may be NULL
 * @dev: the device
 *
 * An untrusted device makes the pool clear everything around and after the
 * data of every mapping in the domain, since the device can reach every
 * slot; idle slots that may hold other devices' data are freed then.
 */
void iommu_dma_bounce_add_device(struct iommu_dma_bounce_pool *pool,
				 struct device *dev)
{
	bool untrusted = dev_is_pci(dev) && to_pci_dev(dev)->untrusted;

	if (!pool)
		return;
	if (untrusted && !READ_ONCE(pool->untrusted)) {
		WRITE_ONCE(pool->untrusted, true);
		iob_shrink(pool, ULONG_MAX);
	}
}

/**
 * iommu_dma_bounce_pool_destroy - free a pool and all its slots
 * @pool: the pool, may be NULL
 *
 * Called while the domain still exists, so slots can be unmapped. Slots still
 * mapped by a driver are a driver bug: they are reported and freed too.
 */
void iommu_dma_bounce_pool_destroy(struct iommu_dma_bounce_pool *pool)
{
	struct iommu_dma_bounce_stats st;
	unsigned long idx, in_use = 0;
	struct iob_slot *slot;
	LIST_HEAD(victims);
	unsigned int class;

	if (!pool)
		return;
	mutex_lock(&iob_pools_lock);
	list_del(&pool->node);
	mutex_unlock(&iob_pools_lock);
	cancel_work_sync(&pool->work);
	cancel_delayed_work_sync(&pool->age_work);
	debugfs_remove_recursive(pool->debugfs);

	iob_get_stats(pool, &st);
	for (class = 0; class < IOB_NR_CLASSES; class++)
		in_use += st.slots[class] - min(st.slots[class],
						st.free[class] +
						st.reserve[class]);
	if (in_use)
		pr_warn("%s: %lu bounce slots still mapped at teardown\n",
			pool->name, in_use);

	/* The stacks, depots and reserves die with the pool: take every slot */
	xa_for_each(&pool->slots, idx, slot)
		if (idx == slot->iova >> pool->shift)
			list_add(&slot->node, &victims);
	iob_release(pool, &victims, IOB_REL_TEARDOWN);
	WARN_ON(atomic_long_read(&pool->bytes));

	xa_destroy(&pool->slots);
	free_percpu(pool->pcpu);
	kfree(pool);
}

/**
 * iommu_dma_bounce_attr - show or set a group's bounce attribute
 * @domain: the group's default domain, may be NULL
 * @attr: which attribute
 * @in: what was written, or NULL to show the value
 * @out: sysfs buffer to show it in
 *
 * "bounce" takes "auto" or a boolean (0/1, on/off); "bounce_threshold" a
 * byte count from 0 to the largest slot size. Anything else changes nothing.
 *
 * Return: bytes shown, 0 when set, or -EINVAL (also when the group has no
 * DMA domain with a pool).
 */
ssize_t iommu_dma_bounce_attr(struct iommu_domain *domain,
			      enum iommu_dma_bounce_attr attr, const char *in,
			      char *out)
{
	struct iommu_dma_bounce_pool *pool;
	unsigned long val;
	int mode;

	pool = domain ? iommu_dma_domain_bounce_pool(domain) : NULL;
	if (!pool)
		return -EINVAL;
	if (attr == IOMMU_DMA_BOUNCE_ATTR_MODE) {
		if (!in)
			return sysfs_emit(out, "%s\n",
					  iob_mode_names[READ_ONCE(pool->mode)]);
		mode = iob_parse_mode(in);
		if (mode < 0)
			return mode;
		WRITE_ONCE(pool->mode, mode);
		return 0;
	}
	if (!in)
		return sysfs_emit(out, "%zu\n", READ_ONCE(pool->threshold));
	if (kstrtoul(in, 0, &val) || val > iob_max_slot(pool))
		return -EINVAL;
	WRITE_ONCE(pool->threshold, val);
	return 0;
}

static int __init iommu_dma_bounce_init(void)
{
	/* Without debugfs the pools work the same, just unobserved */
	iob_debugfs_root = debugfs_create_dir("iommu-bounce", NULL);
	if (IS_ERR(iob_debugfs_root))
		iob_debugfs_root = NULL;

	iob_shrinker = shrinker_alloc(0, "iommu-bounce");
	if (!iob_shrinker) {
		pr_warn("no shrinker: idle slots are freed by aging only\n");
		return 0;
	}
	iob_shrinker->count_objects = iob_shrink_count;
	iob_shrinker->scan_objects = iob_shrink_scan;
	shrinker_register(iob_shrinker);
	return 0;
}

/* Before IOMMU drivers probe devices and create pools */
arch_initcall(iommu_dma_bounce_init);

#if IS_ENABLED(CONFIG_IOMMU_DMA_BOUNCE_KUNIT_TEST)
#include "dma-bounce-test.c"
#endif
