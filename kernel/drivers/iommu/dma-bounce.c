// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pools of pre-mapped bounce buffers for IOMMU DMA domains.
 *
 * Under a strict IOMMU every streaming mapping costs an IOMMU map, an unmap
 * and an IOTLB invalidation; under a virtual IOMMU each of them is a trip to
 * the hypervisor. For small transfers a CPU copy into a buffer that stays
 * mapped is cheaper, and the device still sees nothing but the pool's pages.
 *
 * Each DMA domain owns one pool. A pool hands out "slots": naturally sized
 * buffers of PAGE_SIZE << class bytes, each allocated on the device's node
 * and mapped in the IOMMU once, when it is first needed, inside the DMA mask
 * of the device asking for it. No IOVA space is taken before that.
 *
 * Idle slots are kept in two tiers, like the IOVA rcache: a small stack per
 * CPU and size class, and a per-class depot behind a spinlock that the stacks
 * refill from and spill to in batches. Steady-state map/unmap therefore only
 * takes the local CPU's uncontended lock. When neither has an idle slot, half
 * of another CPU's stack is moved to the depot first, so the pool grows only
 * when no slot is idle anywhere: memory follows the DMA in flight. Then the
 * pool grows from atomic context; when it cannot (at its cap, out of memory
 * or IOVA space, mapping too large) the caller maps the buffer the normal
 * way: a bounce pool never fails a mapping.
 *
 * Memory is bounded by a per-domain cap and given back by aging (slots idle
 * for IOB_IDLE_TIME) and by a shrinker. Slots are unmapped in batches with one
 * IOTLB sync per batch, and their IOVA is freed only after that sync.
 *
 * Stale data: like swiotlb, a mapping copies the caller's buffer into the
 * slot for every direction, DMA_FROM_DEVICE included. A device that writes
 * less than the mapped length then leaves the caller's own bytes in the
 * unwritten tail, exactly as with a direct mapping, and can never hand the
 * CPU bytes of an earlier transfer through this slot.
 *
 * Untrusted devices: everything in the slot but the mapped bytes is zeroed on
 * map, and the mapped bytes are cleared on unmap, so an idle slot (which stays
 * mapped) holds nothing the device has not already been given.
 *
 * Policy: "on" bounces every mapping up to a fixed threshold. "auto", the
 * default, lets each pool find out per size class which path is cheaper on
 * its own IOMMU: a copy beats a map+unmap by far when an IOMMU request is a
 * VM exit, not at all under an emulator where the copy is slow and the
 * request cheap, and the answer changes with load.
 *
 * The pool measures, on the real paths, the time of a map and of an unmap
 * on each path: it times a sample of its own calls (one in
 * IOB_SAMPLE_EVERY of each op, every one during warm-up), dma-iommu
 * brackets its IOMMU work for the pool to time, and each is an
 * exponentially weighted average. The path cheaper by more than
 * 1/2^IOB_HYSTERESIS_SHIFT wins, so noise does not make a class flap.
 *
 * The path not chosen is measured in bursts: for IOB_BURST_NS every
 * candidate of the class takes it. A path looks dearer while it carries a
 * few mappings among many of the other (its code and data are cold, it
 * queues behind the other path's work on the IOMMU or in the VMM), so the
 * first half of a burst lets the other path's mappings drain and only the
 * second half is timed. Bursts take one part in IOB_EXPLORE_EVERY of the
 * time, times how much dearer the path not chosen is (at most
 * IOB_EXPLORE_SCALE_MAX times), so that exploring never costs more than
 * about 1/IOB_EXPLORE_EVERY of the chosen path's time. For the same reason
 * the chosen path is not timed during a burst and for half a burst after
 * it. A pool path sample that had to grow a slot is not taken: growing is a
 * one-off cost the pool amortises.
 *
 * Each burst is a paired measurement, and only a burst changes a decision.
 * Right before the other path takes over, every call of the chosen path is
 * timed for as long as the burst's timed half; when the burst ends, each
 * path's estimate moves half way to its mean of that burst. Both estimates
 * are then made of the same moments, so a change of speed that hits both
 * paths alike (a busy host, a slow patch of an emulator) cancels out of the
 * comparison. An estimate of the chosen path kept from its sampled calls
 * between bursts would instead follow such a change while the other path's
 * stays where the last burst left it, and near parity the class would flap.
 * A switch also takes two bursts in a row that agree, so that one burst
 * measured across such a change cannot move a class. The chosen path's
 * samples between bursts still matter: when they show it dearer than the
 * other by the margin, the next burst comes early, at the soonest
 * IOB_EXPLORE_SOONEST burst lengths after the last one began.
 *
 * Warm-up decides on a few calls of each path, among them each path's
 * first, cold ones, and it sets how rarely the other path is explored from
 * how much dearer it looked. So that a decision made on cold calls cannot
 * stand for a long period, the first IOB_EARLY_BURSTS bursts all come at
 * the soonest, whatever the gap.
 */

#define pr_fmt(fmt) "iommu-bounce: " fmt

#include <linux/debugfs.h>
#include <linux/dma-map-ops.h>
#include <linux/highmem.h>
#include <linux/init.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/kstrtox.h>
#include <linux/list.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/scatterlist.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/shrinker.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>

#include "dma-bounce.h"

#define CREATE_TRACE_POINTS
#include "dma_bounce_trace.h"

/* Slot sizes: PAGE_SIZE << 0 up to PAGE_SIZE << (IOB_NR_CLASSES - 1) */
#define IOB_NR_CLASSES		IOMMU_DMA_BOUNCE_NR_CLASSES
#define IOB_MAX_SLOT		(PAGE_SIZE << (IOB_NR_CLASSES - 1))
/* Idle slots a CPU keeps per class, and how many move to/from the depot */
#define IOB_MAG_SIZE		32
#define IOB_MAG_BATCH		(IOB_MAG_SIZE / 2)
/*
 * Growth runs in the mapping's context, often atomic. The pool is only an
 * optimisation (a failed growth falls back to the normal path), so its own
 * memory (slot pages, slot struct, lookup entries) does not come from the
 * atomic reserves: it tries without waiting and quietly. The IOVA and the
 * page tables of the slot's map are allocated as on the normal path.
 */
#define IOB_GFP			(GFP_NOWAIT | __GFP_NOWARN)
/* Aging: how often to look, and how long a slot may sit idle */
#define IOB_AGE_PERIOD		HZ
#define IOB_IDLE_TIME		(5 * HZ)
/* Defaults, overridable on the command line */
#define IOB_DEFAULT_THRESHOLD	SZ_16K
#define IOB_DEFAULT_MAX_BYTES	SZ_64M
/*
 * Auto policy: a new sample of the chosen path weighs 1/2^IOB_COST_SHIFT in
 * its average; one call in IOB_SAMPLE_EVERY on that path is timed; a sample
 * is clamped to IOB_SPIKE_MAX times the average so that one interrupted
 * measurement cannot swing it. With these values one sample moves an
 * average by at most 1/16, half of the 1/8 margin (IOB_HYSTERESIS_SHIFT)
 * the other path must win by: no single outlier flips a decision. Until
 * both paths have IOB_WARMUP samples of each op, one candidate in two takes
 * each path and every call is timed.
 */
#define IOB_COST_SHIFT		4
#define IOB_SAMPLE_EVERY	16
#define IOB_WARMUP		8
#define IOB_SPIKE_MAX		2
#define IOB_HYSTERESIS_SHIFT	3
/*
 * Bursts (see the top): one lasts IOB_BURST_NS, its first half, and the
 * time after it in which the chosen path is not timed, IOB_SETTLE_NS. A
 * burst's mean times weigh 1/2^IOB_BURST_SHIFT: they average many calls,
 * so they weigh more than one sample, yet one burst alone moves an estimate
 * at most half way. Its calls are clamped at IOB_BURST_SPIKE_MAX times the
 * average, looser than single samples, so that an estimate far too low
 * catches up in a few bursts.
 */
#define IOB_BURST_NS		(32 * NSEC_PER_MSEC)
#define IOB_SETTLE_NS		(IOB_BURST_NS / 2)
#define IOB_BURST_SHIFT		1
#define IOB_BURST_SPIKE_MAX	4
/* The chosen path's timed reference before a burst: as long as its timed half */
#define IOB_REF_NS		(IOB_BURST_NS - IOB_SETTLE_NS)
/* Bursts take 1/IOB_EXPLORE_EVERY of the time, k times less for k dearer */
#define IOB_EXPLORE_EVERY	64
#define IOB_EXPLORE_SCALE_MAX	16
/*
 * A burst brought forward (the chosen path's samples look dear) still comes
 * at most one in this many burst lengths: near parity, where its samples
 * cross the other's estimate often, exploring stays a small share.
 */
#define IOB_EXPLORE_SOONEST	8
/* Bursts after warm-up that come at the soonest, whatever the gap (top) */
#define IOB_EARLY_BURSTS	4

/* Slot state flags */
#define IOB_SLOT_UNTRUSTED	BIT(0)	/* clear the data on unmap */
#define IOB_SLOT_SG		BIT(1)	/* holds a coalesced scatterlist */
#define IOB_SLOT_FRESH		BIT(2)	/* just grown, not yet used */

/* The two ways a candidate mapping can go, for the auto policy */
enum iob_path {
	IOB_PATH_IOMMU,
	IOB_PATH_BOUNCE,
	IOB_NR_PATHS,
};

/* Where a class is in measuring the path it has not chosen */
enum iob_phase {
	IOB_PHASE_WAIT,		/* until the next burst */
	IOB_PHASE_REFERENCE,	/* the chosen path, timed, before a burst */
	IOB_PHASE_SETTLE,	/* burst: the other path, its first half */
	IOB_PHASE_MEASURE,	/* burst: its second half, timed */
};

/**
 * struct iob_slot - one pre-mapped bounce buffer
 * @node: link in the depot, or in a release list
 * @page: first of the slot's 1 << @class pages
 * @iova: where the slot is mapped, for the life of the slot
 * @last_used: jiffies when the slot last became idle
 * @orig: the caller's buffer, while a single mapping is in the slot
 * @len: bytes mapped
 * @off: offset of the data in the slot (the caller's IOVA granule offset)
 * @class: size class
 * @flags: IOB_SLOT_*
 */
struct iob_slot {
	struct list_head	node;
	struct page		*page;
	dma_addr_t		iova;
	unsigned long		last_used;
	phys_addr_t		orig;
	size_t			len;
	unsigned int		off;
	u8			class;
	u8			flags;
};

/*
 * Idle slots of one size class kept by one CPU. @lock is taken by its own CPU
 * on the fast path, and by aging, the shrinker and teardown when they drain
 * the stack from another CPU; it nests outside the depot lock.
 */
struct iob_cpu_cache {
	spinlock_t		lock;	/* see above */
	unsigned int		count;
	unsigned long		last_used;
	struct iob_slot		*slots[IOB_MAG_SIZE];
};

struct iob_pcpu {
	struct iob_cpu_cache	cache[IOB_NR_CLASSES];
	unsigned long		maps;
	unsigned long		maps_softirq;
	unsigned long		maps_hardirq;
	unsigned long		bytes_bounced;
	/*
	 * auto policy: which calls to time, one count per op: with one for
	 * both, a CPU that maps and unmaps in turn would time only one op
	 */
	unsigned int		tick[IOMMU_DMA_BOUNCE_NR_COST_OPS];
	/* auto policy: which path warms up, per class */
	unsigned int		warmup[IOB_NR_CLASSES];
};

/**
 * struct iob_cost - what the auto policy knows about one size class
 * @ns: average cost in ns of a map and of an unmap, per path; after
 *	warm-up only a burst's end moves it
 * @recent: the chosen path's average over its samples since the last
 *	burst, per op: what may bring the next burst forward
 * @samples: measurements taken, per path and op
 * @bounce: the decision: bounce this class or not
 * @switches: times @bounce changed
 * @explore_every: bursts take one part in this many of the time; 0 until
 *	both paths have warmed up
 * @lock: serialises the bursts, see below
 * @phase: an enum iob_phase
 * @burst_path: the path the last burst explored
 * @phase_end: clock when @phase ends
 * @burst_start: clock when the last burst began (its reference)
 * @burst_end: clock when it ended
 * @mark: clock when the running phase that is timed began
 * @burst_ns: time of the calls timed in the running burst, per path and op
 * @burst_calls: how many calls that is, per path and op
 * @bursts: bursts ended
 * @lean: the last burst's own means found the path not chosen clearly
 *	cheaper
 *
 * @ns, @recent, @samples, @bounce, @switches and @explore_every are
 * updated without a lock by whichever CPU took a sample, with READ_ONCE()
 * and WRITE_ONCE(): two CPUs sampling at once may lose one sample, which an
 * estimate can afford, and nothing on the fast path waits for it. After
 * warm-up, only a burst's end writes @ns, @bounce, @switches and
 * @explore_every, with @lock held. The burst fields are written under
 * @lock, which is taken only when a phase ends, when a burst is brought
 * forward and to add a call timed in a burst, so never on the fast path
 * between bursts; the fast path reads @phase, @burst_path, @phase_end,
 * @burst_start, @burst_end and @bursts with READ_ONCE().
 */
struct iob_cost {
	u64			ns[IOB_NR_PATHS][IOMMU_DMA_BOUNCE_NR_COST_OPS];
	u64			recent[IOMMU_DMA_BOUNCE_NR_COST_OPS];
	unsigned long		samples[IOB_NR_PATHS][IOMMU_DMA_BOUNCE_NR_COST_OPS];
	bool			bounce;
	unsigned long		switches;
	unsigned int		explore_every;

	spinlock_t		lock;	/* see above */
	u8			phase;
	u8			burst_path;
	u64			phase_end;
	u64			burst_start;
	u64			burst_end;
	u64			mark;
	u64			burst_ns[IOB_NR_PATHS][IOMMU_DMA_BOUNCE_NR_COST_OPS];
	unsigned long		burst_calls[IOB_NR_PATHS][IOMMU_DMA_BOUNCE_NR_COST_OPS];
	unsigned long		bursts;
	bool			lean;
};

/* Idle slots of one size class shared by all CPUs; @lock protects both. */
struct iob_depot {
	spinlock_t		lock;	/* see above */
	struct list_head	free;
	unsigned long		count;
};

static const char * const iob_fallback_names[IOMMU_DMA_BOUNCE_NR_FALLBACKS] = {
	[IOMMU_DMA_BOUNCE_FB_TOO_LARGE]	= "too_large",
	[IOMMU_DMA_BOUNCE_FB_CAP]		= "cap",
	[IOMMU_DMA_BOUNCE_FB_NOMEM]		= "nomem",
	[IOMMU_DMA_BOUNCE_FB_IOVA]		= "iova",
	[IOMMU_DMA_BOUNCE_FB_MAP]		= "map",
	[IOMMU_DMA_BOUNCE_FB_ATTRS]		= "attrs",
	[IOMMU_DMA_BOUNCE_FB_SG]		= "sg",
	[IOMMU_DMA_BOUNCE_FB_SKIP_SYNC]		= "skip_sync",
};

enum iob_release_reason {
	IOB_REL_AGING,
	IOB_REL_SHRINKER,
	IOB_REL_TEARDOWN,
};

/**
 * struct iommu_dma_bounce_pool - the bounce slots of one IOMMU DMA domain
 * @ops: how to reach the domain
 * @ctx: argument for @ops
 * @granule: IOVA granule of the domain
 * @nid: NUMA node for slot memory
 * @coherent: whether the domain's devices are DMA-coherent
 * @mode: policy, an enum iommu_dma_bounce_mode
 * @threshold: largest mapping bounced for speed in mode "on", in bytes
 * @max_bytes: cap on the memory held by slots
 * @cost: the auto policy's estimates and decision per class
 *
 * @mode, @threshold and @max_bytes are written with WRITE_ONCE() under the
 * IOMMU group's mutex (sysfs) and read locklessly on the fast path.
 *
 * @pcpu: per-CPU stacks of idle slots and counters
 * @depot: per-class shared idle slots
 * @slots: every IOVA page of every slot -> its slot. Entries are stored and
 *	erased only while the slot is idle or being created, so a lookup of a
 *	mapped address under RCU (xa_load) always sees a live slot. Slots
 *	grow in whatever context a mapping is made, hardirq and softirq
 *	included (a NIC refilling its receive ring from NAPI), while aging and
 *	the shrinker erase from process context: the array's lock is an
 *	XA_FLAGS_LOCK_IRQ one, always taken with xa_lock_irqsave().
 * @bytes: memory held by all slots
 * @nr: slots per class
 * @hiwater: most slots per class seen at once
 * @fallbacks: mappings left to the normal path, by enum iob_fallback
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
	unsigned long		granule;
	int			nid;
	bool			coherent;

	int			mode;
	size_t			threshold;
	size_t			max_bytes;
	struct iob_cost		cost[IOB_NR_CLASSES];

	struct iob_pcpu __percpu *pcpu;
	struct iob_depot	depot[IOB_NR_CLASSES];
	struct xarray		slots;

	atomic_long_t		bytes;
	atomic_long_t		nr[IOB_NR_CLASSES];
	atomic_long_t		hiwater[IOB_NR_CLASSES];
	atomic_long_t		fallbacks[IOMMU_DMA_BOUNCE_NR_FALLBACKS];
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

	if (mode < 0) {
		pr_warn("iommu.bounce=%s not understood, expected 0, 1 or auto\n",
			str);
		return mode;
	}
	iob_default_mode = mode;
	return 0;
}
early_param("iommu.bounce", iob_setup_mode);

/* Parse a size with K/M/G suffixes, at most @max, for a boot parameter. */
static int __init iob_parse_size(const char *param, char *str,
				 unsigned long long max, size_t *val)
{
	char *end;
	unsigned long long v = memparse(str, &end);

	if (*end || v > max) {
		pr_warn("%s=%s ignored, expected a size from 0 to %llu\n",
			param, str, max);
		return -EINVAL;
	}
	*val = v;
	return 0;
}

static int __init iob_setup_threshold(char *str)
{
	return iob_parse_size("iommu.bounce_threshold", str, IOB_MAX_SLOT,
			      &iob_default_threshold);
}
early_param("iommu.bounce_threshold", iob_setup_threshold);

static int __init iob_setup_max_bytes(char *str)
{
	return iob_parse_size("iommu.bounce_max", str, SIZE_MAX,
			      &iob_default_max_bytes);
}
early_param("iommu.bounce_max", iob_setup_max_bytes);

static inline size_t iob_class_size(unsigned int class)
{
	return PAGE_SIZE << class;
}

static inline void *iob_slot_va(struct iob_slot *slot)
{
	return page_address(slot->page);
}

/**
 * iommu_dma_bounce_class - size class for a mapping
 * @granule: IOVA granule of the domain
 * @phys: start of the caller's buffer
 * @size: length of the mapping
 *
 * The data keeps its offset within the IOVA granule (drivers rely on it
 * through dma_get_min_align_mask()), so the slot must hold offset + size.
 *
 * Return: the smallest class that fits, or -1 if none does.
 */
VISIBLE_IF_KUNIT int iommu_dma_bounce_class(unsigned long granule,
					    phys_addr_t phys, size_t size)
{
	size_t need = (phys & (granule - 1)) + size;

	if (!size || need > IOB_MAX_SLOT)
		return -1;
	return get_order(need);
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_class);

static void iob_fallback(struct iommu_dma_bounce_pool *pool,
			 struct device *dev, size_t size, enum iommu_dma_bounce_fallback why)
{
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

static void iob_update_hiwater(struct iommu_dma_bounce_pool *pool,
			       unsigned int class, long nr)
{
	long hw = atomic_long_read(&pool->hiwater[class]);

	do {
		if (nr <= hw)
			return;
	} while (!atomic_long_try_cmpxchg(&pool->hiwater[class], &hw, nr));
}

/* Erase the first @nr_pages IOVA pages of @slot from the lookup array. */
static void iob_erase_pages(struct iommu_dma_bounce_pool *pool,
			    struct iob_slot *slot, unsigned long nr_pages)
{
	unsigned long first = slot->iova >> PAGE_SHIFT, i, flags;

	xa_lock_irqsave(&pool->slots, flags);
	for (i = 0; i < nr_pages; i++)
		__xa_erase(&pool->slots, first + i);
	xa_unlock_irqrestore(&pool->slots, flags);
}

/*
 * Enter every IOVA page of a new @slot in the lookup array. On failure the
 * caller releases the slot, which erases whatever was entered. The
 * allocation must not block: it happens under the irq-safe lock.
 */
static int iob_store_pages(struct iommu_dma_bounce_pool *pool,
			   struct iob_slot *slot)
{
	unsigned long first = slot->iova >> PAGE_SHIFT, i, flags;
	int err = 0;

	xa_lock_irqsave(&pool->slots, flags);
	for (i = 0; i < (1UL << slot->class); i++) {
		err = xa_err(__xa_store(&pool->slots, first + i, slot,
					IOB_GFP));
		if (err)
			break;
	}
	xa_unlock_irqrestore(&pool->slots, flags);
	return err;
}

/*
 * Slots the IOMMU did not fully unmap: the device may still reach their
 * pages, so neither the pages nor the IOVA range may ever be reused. Keep
 * both out of circulation for good and say so; only the bookkeeping goes.
 */
static void iob_leak(struct iommu_dma_bounce_pool *pool, struct list_head *list)
{
	struct iob_slot *slot, *tmp;

	list_for_each_entry_safe(slot, tmp, list, node) {
		size_t size = iob_class_size(slot->class);

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
		size_t size = iob_class_size(slot->class);

		iob_erase_pages(pool, slot, 1UL << slot->class);
		if (pool->ops->unmap(pool->ctx, slot->iova, size, &gather) !=
		    size)
			list_move(&slot->node, &stuck);
	}
	pool->ops->sync(pool->ctx, &gather);
	atomic_long_inc(&pool->syncs);
	iob_leak(pool, &stuck);

	list_for_each_entry_safe(slot, tmp, list, node) {
		size_t size = iob_class_size(slot->class);

		pool->ops->free_iova(pool->ctx, slot->iova, size);
		__free_pages(slot->page, slot->class);
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
 * Create a slot for @class inside @dma_limit. Called from atomic context,
 * with no pool lock held: allocation and IOMMU mapping happen unlocked.
 */
static struct iob_slot *iob_grow(struct iommu_dma_bounce_pool *pool,
				 struct device *dev, unsigned int class,
				 u64 dma_limit)
{
	size_t size = iob_class_size(class);
	struct iob_slot *slot;
	long nr;
	int prot;

	if (atomic_long_add_return(size, &pool->bytes) >
	    READ_ONCE(pool->max_bytes)) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_CAP);
		goto undo_bytes;
	}

	slot = kzalloc_node(sizeof(*slot), IOB_GFP, pool->nid);
	if (!slot)
		goto nomem;
	/* Zeroed: a new slot must not show the device old kernel memory */
	slot->page = alloc_pages_node(pool->nid, IOB_GFP | __GFP_ZERO, class);
	if (!slot->page)
		goto free_slot;
	slot->class = class;
	slot->flags = IOB_SLOT_FRESH;

	slot->iova = pool->ops->alloc_iova(pool->ctx, dev, size, dma_limit);
	if (!slot->iova || !IS_ALIGNED(slot->iova, PAGE_SIZE)) {
		if (slot->iova)
			pool->ops->free_iova(pool->ctx, slot->iova, size);
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_IOVA);
		goto free_pages;
	}

	prot = IOMMU_READ | IOMMU_WRITE | (pool->coherent ? IOMMU_CACHE : 0);
	if (pool->ops->map(pool->ctx, slot->iova, page_to_phys(slot->page),
			   size, prot)) {
		pool->ops->free_iova(pool->ctx, slot->iova, size);
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_MAP);
		goto free_pages;
	}

	if (iob_store_pages(pool, slot)) {
		LIST_HEAD(one);

		/* Release it as a slot so the IOTLB is synced */
		atomic_long_inc(&pool->nr[class]);
		list_add(&slot->node, &one);
		iob_release(pool, &one, IOB_REL_TEARDOWN);
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_NOMEM);
		return NULL;
	}

	nr = atomic_long_inc_return(&pool->nr[class]);
	iob_update_hiwater(pool, class, nr);
	trace_iommu_bounce_grow(pool->name, size, slot->iova, nr);
	queue_delayed_work(system_unbound_wq, &pool->age_work, IOB_AGE_PERIOD);
	return slot;

free_pages:
	__free_pages(slot->page, class);
	kfree(slot);
	goto undo_bytes;
free_slot:
	kfree(slot);
nomem:
	iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_NOMEM);
undo_bytes:
	atomic_long_sub(size, &pool->bytes);
	return NULL;
}

/* Move up to IOB_MAG_BATCH slots from the depot to an empty CPU stack. */
static void iob_refill(struct iommu_dma_bounce_pool *pool, unsigned int class,
		       struct iob_cpu_cache *cc)
{
	struct iob_depot *depot = &pool->depot[class];
	struct iob_slot *slot;

	spin_lock(&depot->lock);
	while (cc->count < IOB_MAG_BATCH && !list_empty(&depot->free)) {
		slot = list_first_entry(&depot->free, struct iob_slot, node);
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

/* An idle slot from this CPU's stack (refilled from the depot), or NULL. */
static struct iob_slot *iob_take(struct iommu_dma_bounce_pool *pool,
				 unsigned int class, u64 dma_limit)
{
	struct iob_cpu_cache *cc;
	struct iob_slot *slot = NULL;
	unsigned long flags;

	cc = &raw_cpu_ptr(pool->pcpu)->cache[class];
	spin_lock_irqsave(&cc->lock, flags);
	if (!cc->count)
		iob_refill(pool, class, cc);
	if (cc->count) {
		slot = cc->slots[cc->count - 1];
		/* An idle slot made for a wider DMA mask stays where it is */
		if (slot->iova + iob_class_size(class) - 1 <= dma_limit) {
			cc->count--;
			cc->last_used = jiffies;
		} else {
			slot = NULL;
		}
	}
	spin_unlock_irqrestore(&cc->lock, flags);
	return slot;
}

/*
 * Move half of the idle slots of @class that another CPU keeps to the depot.
 * The CPU that completes I/O (and unmaps) is often not the one that submits
 * it (and maps): without this, its stack would hold idle slots while the
 * submitting CPU grows new ones, and the pool would outgrow the DMA in
 * flight by up to a stack per CPU. Only called when this CPU's stack and
 * the depot are empty, i.e. instead of growing. Takes one stack lock at a
 * time, so the usual order (stack, then depot) holds.
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

static struct iob_slot *iob_get(struct iommu_dma_bounce_pool *pool,
				struct device *dev, unsigned int class,
				u64 dma_limit)
{
	struct iob_slot *slot = iob_take(pool, class, dma_limit);

	if (!slot && iob_steal(pool, class))
		slot = iob_take(pool, class, dma_limit);
	return slot ?: iob_grow(pool, dev, class, dma_limit);
}

static void iob_put(struct iommu_dma_bounce_pool *pool, struct iob_slot *slot)
{
	struct iob_cpu_cache *cc;
	unsigned long flags;

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
	return xa_load(&pool->slots, dma >> PAGE_SHIFT);
}

static u64 iob_dma_limit(struct device *dev)
{
	return min_not_zero(dma_get_mask(dev), dev->bus_dma_limit);
}

/*
 * May the pool serve a mapping with these attributes? If not, say why
 * (counted as a fallback) and return false.
 *
 * DMA_ATTR_SKIP_CPU_SYNC at map time marks a mapping that its driver keeps
 * for long and syncs in parts: page_pool's pages, receive buffers that a
 * driver recycles. Bounced for speed, such a mapping would hold a slot for
 * as long as the page lives and copy on every sync, which gains nothing
 * and, with enough pages, fills the pool to its cap. So only a mapping
 * that must bounce (@flags has IOMMU_DMA_BOUNCE_FORCE) takes the pool with
 * it; its syncs then copy exactly the range they name.
 */
static bool iob_attrs_ok(struct iommu_dma_bounce_pool *pool,
			 struct device *dev, size_t size, unsigned long attrs,
			 unsigned int flags)
{
	/* A privileged mapping must not share slots mapped unprivileged */
	if ((attrs & DMA_ATTR_PRIVILEGED) ||
	    dev_is_dma_coherent(dev) != pool->coherent) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_ATTRS);
		return false;
	}
	if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
	    !(flags & IOMMU_DMA_BOUNCE_FORCE)) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_SKIP_SYNC);
		return false;
	}
	return true;
}

static void iob_zero_padding(struct iob_slot *slot)
{
	void *va = iob_slot_va(slot);
	size_t end = slot->off + slot->len;

	memset(va, 0, slot->off);
	memset(va + end, 0, iob_class_size(slot->class) - end);
}

/* Make the slot's data visible to the device after the CPU wrote it. */
static void iob_for_device(struct iommu_dma_bounce_pool *pool,
			   struct iob_slot *slot, size_t start, size_t len,
			   enum dma_data_direction dir)
{
	if (!pool->coherent)
		arch_sync_dma_for_device(page_to_phys(slot->page) + slot->off +
					 start, len, dir);
}

static void iob_for_cpu(struct iommu_dma_bounce_pool *pool,
			struct iob_slot *slot, size_t start, size_t len,
			enum dma_data_direction dir)
{
	if (!pool->coherent)
		arch_sync_dma_for_cpu(page_to_phys(slot->page) + slot->off +
				      start, len, dir);
}

static u64 iob_clock(struct iommu_dma_bounce_pool *pool)
{
	u64 now = pool->ops->clock ? pool->ops->clock(pool->ctx) :
				     local_clock();

	/* 0 tells the callers "not timed" */
	return now ?: 1;
}

static bool iob_warm(struct iob_cost *c, enum iob_path path)
{
	return READ_ONCE(c->samples[path][IOMMU_DMA_BOUNCE_COST_MAP]) >=
		IOB_WARMUP &&
	       READ_ONCE(c->samples[path][IOMMU_DMA_BOUNCE_COST_UNMAP]) >=
		IOB_WARMUP;
}

static enum iob_path iob_chosen(struct iob_cost *c)
{
	return READ_ONCE(c->bounce) ? IOB_PATH_BOUNCE : IOB_PATH_IOMMU;
}

/* The path a burst explores: the one not chosen */
static enum iob_path iob_explored(struct iob_cost *c)
{
	return READ_ONCE(c->bounce) ? IOB_PATH_IOMMU : IOB_PATH_BOUNCE;
}

/* Restart @recent from the estimate of the path chosen now */
static void iob_recent_restart(struct iob_cost *c)
{
	enum iob_path path = iob_chosen(c);
	enum iommu_dma_bounce_cost_op op;

	for (op = 0; op < IOMMU_DMA_BOUNCE_NR_COST_OPS; op++)
		WRITE_ONCE(c->recent[op], READ_ONCE(c->ns[path][op]));
}

static u64 iob_path_cost(struct iob_cost *c, enum iob_path path)
{
	return READ_ONCE(c->ns[path][IOMMU_DMA_BOUNCE_COST_MAP]) +
	       READ_ONCE(c->ns[path][IOMMU_DMA_BOUNCE_COST_UNMAP]);
}

/*
 * How often to explore the path not chosen: a path @other/@cur times dearer
 * than the chosen one is explored that many times less often, so that the
 * exploring costs about the same share of the time whatever the gap.
 *
 * Return: how many burst lengths from the start of a burst to the next.
 */
static unsigned int iob_explore_every(u64 cur, u64 other)
{
	u64 scale = cur ? div64_u64(other, cur) : IOB_EXPLORE_SCALE_MAX;

	return IOB_EXPLORE_EVERY * clamp_t(u64, scale, 1, IOB_EXPLORE_SCALE_MAX);
}

/* Is a path that costs @other clearly cheaper than one that costs @cur? */
static bool iob_clearly_cheaper(u64 other, u64 cur)
{
	return other + (other >> IOB_HYSTERESIS_SHIFT) < cur;
}

/*
 * Move a class to the other path only when that is clearly cheaper and
 * @may_switch; then set how often to explore.
 */
static void iob_decide(struct iommu_dma_bounce_pool *pool, unsigned int class,
		       bool may_switch)
{
	struct iob_cost *c = &pool->cost[class];
	bool bounce = READ_ONCE(c->bounce);
	u64 iommu, pool_path, cur, other;
	unsigned int every;

	if (!iob_warm(c, IOB_PATH_IOMMU) || !iob_warm(c, IOB_PATH_BOUNCE))
		return;
	iommu = iob_path_cost(c, IOB_PATH_IOMMU);
	pool_path = iob_path_cost(c, IOB_PATH_BOUNCE);
	cur = bounce ? pool_path : iommu;
	other = bounce ? iommu : pool_path;
	if (may_switch && iob_clearly_cheaper(other, cur)) {
		bounce = !bounce;
		WRITE_ONCE(c->bounce, bounce);
		WRITE_ONCE(c->switches, READ_ONCE(c->switches) + 1);
		trace_iommu_bounce_decide(pool->name, iob_class_size(class),
					  bounce, iommu, pool_path);
	}
	every = bounce ? iob_explore_every(pool_path, iommu) :
			 iob_explore_every(iommu, pool_path);
	/*
	 * Warm: the first burst comes one burst length later, once the
	 * warm-up's mix has drained. A CPU that sees @explore_every before
	 * @phase_end starts it early, which is harmless.
	 */
	if (!READ_ONCE(c->explore_every)) {
		WRITE_ONCE(c->phase_end, iob_clock(pool) + IOB_BURST_NS);
		iob_recent_restart(c);
	}
	WRITE_ONCE(c->explore_every, every);
}

/* @t - @since in ns, negative if @t is earlier (clocks of two CPUs) */
static s64 iob_since(u64 t, u64 since)
{
	return (s64)(t - since);
}

/* Move an average 1/2^@shift of the way towards @ns */
static u64 iob_ewma(u64 avg, u64 ns, unsigned int shift)
{
	return avg - (avg >> shift) + (ns >> shift);
}

/* One sample into an average: clamped, so that no outlier swings it */
static u64 iob_smooth(u64 avg, u64 ns)
{
	return iob_ewma(avg, min(ns, avg * IOB_SPIKE_MAX), IOB_COST_SHIFT);
}

/*
 * Bring @class's next burst forward: the chosen path's samples say it got
 * dearer than the other path's estimate. Not before the soonest time after
 * the last burst, and never during one.
 */
static void iob_burst_soon(struct iommu_dma_bounce_pool *pool,
			   unsigned int class)
{
	struct iob_cost *c = &pool->cost[class];
	unsigned long flags;
	u64 soonest;

	if (!READ_ONCE(c->bursts) || READ_ONCE(c->phase) != IOB_PHASE_WAIT)
		return;
	soonest = READ_ONCE(c->burst_start) +
		  (u64)IOB_BURST_NS * IOB_EXPLORE_SOONEST;
	if (iob_since(READ_ONCE(c->phase_end), soonest) <= 0)
		return;
	spin_lock_irqsave(&c->lock, flags);
	if (c->phase == IOB_PHASE_WAIT &&
	    iob_since(c->phase_end, soonest) > 0)
		WRITE_ONCE(c->phase_end, soonest);
	spin_unlock_irqrestore(&c->lock, flags);
}

/*
 * Take one measurement of a class. During warm-up it moves the path's
 * estimate and the class is re-decided. After warm-up only the chosen
 * path's calls between bursts are samples: they move @recent, and bring the
 * next burst forward when it looks the dearer path by the margin.
 */
static void iob_sample(struct iommu_dma_bounce_pool *pool, unsigned int class,
		       enum iob_path path, enum iommu_dma_bounce_cost_op op,
		       u64 ns)
{
	struct iob_cost *c = &pool->cost[class];
	unsigned long n = READ_ONCE(c->samples[path][op]);
	u64 avg, cur, other;

	if (!READ_ONCE(c->explore_every)) {
		avg = READ_ONCE(c->ns[path][op]);
		if (n < IOB_WARMUP)
			/* A plain mean until there is something to smooth */
			avg = (avg * n + ns) / (n + 1);
		else
			avg = iob_smooth(avg, ns);
		WRITE_ONCE(c->ns[path][op], avg);
		WRITE_ONCE(c->samples[path][op], n + 1);
		iob_decide(pool, class, true);
		return;
	}
	if (path != iob_chosen(c))
		return;
	WRITE_ONCE(c->recent[op], iob_smooth(READ_ONCE(c->recent[op]), ns));
	WRITE_ONCE(c->samples[path][op], n + 1);
	cur = READ_ONCE(c->recent[IOMMU_DMA_BOUNCE_COST_MAP]) +
	      READ_ONCE(c->recent[IOMMU_DMA_BOUNCE_COST_UNMAP]);
	other = iob_path_cost(c, iob_explored(c));
	if (iob_clearly_cheaper(other, cur))
		iob_burst_soon(pool, class);
}

/*
 * The burst that just ended, as one paired sample: per op, each path's
 * estimate moves half way to its mean in the burst, the chosen path's from
 * the reference. An op that lacks a timed call on either path is left
 * alone, so that the two estimates always move together.
 *
 * Then re-decide. A switch takes two bursts in a row whose own means both
 * find the other path clearly cheaper, and estimates that agree: one burst
 * whose reference and timed half straddle a change of speed (the host got
 * busy between them) cannot move a class. A burst that finds it brings the
 * next one forward to confirm it soon, and so do the first bursts after
 * warm-up. Last, restart @recent from the estimate of the path now chosen
 * and set when the next burst begins.
 * Called with the class's lock held.
 */
static void iob_burst_fold(struct iommu_dma_bounce_pool *pool,
			   unsigned int class)
{
	struct iob_cost *c = &pool->cost[class];
	enum iob_path path, chosen = iob_chosen(c);
	u64 avg, mean[IOB_NR_PATHS] = {};
	enum iommu_dma_bounce_cost_op op;
	unsigned int every;
	bool lean;

	lockdep_assert_held(&c->lock);
	for (op = 0; op < IOMMU_DMA_BOUNCE_NR_COST_OPS; op++) {
		if (!c->burst_calls[IOB_PATH_IOMMU][op] ||
		    !c->burst_calls[IOB_PATH_BOUNCE][op])
			continue;
		for (path = 0; path < IOB_NR_PATHS; path++) {
			u64 m = div64_ul(c->burst_ns[path][op],
					 c->burst_calls[path][op]);

			mean[path] += m;
			avg = iob_ewma(READ_ONCE(c->ns[path][op]), m,
				       IOB_BURST_SHIFT);
			WRITE_ONCE(c->ns[path][op], avg);
			WRITE_ONCE(c->samples[path][op], c->samples[path][op] +
				   c->burst_calls[path][op]);
		}
	}
	WRITE_ONCE(c->bursts, c->bursts + 1);
	lean = iob_clearly_cheaper(mean[c->burst_path], mean[chosen]);
	iob_decide(pool, class, lean && c->lean);
	/* After a switch the last burst measured the other way round */
	c->lean = lean && iob_chosen(c) == chosen;
	iob_recent_restart(c);
	if (c->lean || c->bursts < IOB_EARLY_BURSTS)
		every = IOB_EXPLORE_SOONEST;
	else
		every = READ_ONCE(c->explore_every);
	WRITE_ONCE(c->phase_end, c->burst_start + (u64)IOB_BURST_NS * every);
}

/* Move @class's burst to its next phase, which starts @now. Lock held. */
static void iob_burst_next(struct iommu_dma_bounce_pool *pool,
			   unsigned int class, u64 now)
{
	struct iob_cost *c = &pool->cost[class];
	enum iob_phase next = IOB_PHASE_WAIT;

	lockdep_assert_held(&c->lock);
	switch (c->phase) {
	case IOB_PHASE_WAIT:
		memset(c->burst_ns, 0, sizeof(c->burst_ns));
		memset(c->burst_calls, 0, sizeof(c->burst_calls));
		WRITE_ONCE(c->burst_path, iob_explored(c));
		WRITE_ONCE(c->burst_start, now);
		c->mark = now;
		WRITE_ONCE(c->phase_end, now + IOB_REF_NS);
		next = IOB_PHASE_REFERENCE;
		break;
	case IOB_PHASE_REFERENCE:
		WRITE_ONCE(c->phase_end, now + IOB_SETTLE_NS);
		next = IOB_PHASE_SETTLE;
		break;
	case IOB_PHASE_SETTLE:
		c->mark = now;
		WRITE_ONCE(c->phase_end, now + IOB_BURST_NS - IOB_SETTLE_NS);
		next = IOB_PHASE_MEASURE;
		break;
	case IOB_PHASE_MEASURE:
		WRITE_ONCE(c->burst_end, now);
		iob_burst_fold(pool, class);
		break;
	}
	WRITE_ONCE(c->phase, next);
}

/*
 * Does this candidate of a warm @class explore the path not chosen? Yes
 * during a burst, but not during its reference. The first candidate after a
 * phase's end moves the class to the next phase.
 */
static bool iob_exploring(struct iommu_dma_bounce_pool *pool,
			  unsigned int class)
{
	struct iob_cost *c = &pool->cost[class];
	u64 now = iob_clock(pool);
	unsigned long flags;
	bool explore;

	if (iob_since(now, READ_ONCE(c->phase_end)) < 0)
		return READ_ONCE(c->phase) >= IOB_PHASE_SETTLE;

	spin_lock_irqsave(&c->lock, flags);
	if (iob_since(now, c->phase_end) >= 0)
		iob_burst_next(pool, class, now);
	explore = c->phase >= IOB_PHASE_SETTLE;
	spin_unlock_irqrestore(&c->lock, flags);
	return explore;
}

/*
 * Add a call on @path that started at @start to the running burst, if it is
 * one of the burst's timed calls: a call of the chosen path during the
 * reference, or of the explored path during the second half.
 */
static void iob_burst_add(struct iommu_dma_bounce_pool *pool,
			  unsigned int class, enum iob_path path,
			  enum iommu_dma_bounce_cost_op op, u64 start, u64 ns)
{
	struct iob_cost *c = &pool->cost[class];
	unsigned long flags;
	bool timed;
	u64 avg;

	spin_lock_irqsave(&c->lock, flags);
	if (c->phase == IOB_PHASE_REFERENCE)
		timed = path != c->burst_path;
	else
		timed = c->phase == IOB_PHASE_MEASURE && path == c->burst_path;
	if (timed && iob_since(start, c->mark) >= 0) {
		avg = READ_ONCE(c->ns[path][op]);
		c->burst_ns[path][op] += min(ns, avg * IOB_BURST_SPIKE_MAX);
		c->burst_calls[path][op]++;
	}
	spin_unlock_irqrestore(&c->lock, flags);
}

/*
 * Start timing a call on @path if the auto policy may want it: every call
 * on the path not chosen (warm-up or a burst took it there), every call
 * during a burst's reference and during warm-up, one in IOB_SAMPLE_EVERY
 * otherwise.
 *
 * Return: the start time, or 0 if the call is not timed.
 */
static u64 iob_time_begin(struct iommu_dma_bounce_pool *pool, int class,
			  enum iob_path path, enum iommu_dma_bounce_cost_op op)
{
	struct iob_cost *c;

	if (READ_ONCE(pool->mode) != IOMMU_DMA_BOUNCE_AUTO || class < 0)
		return 0;
	c = &pool->cost[class];
	if (path != iob_chosen(c) ||
	    READ_ONCE(c->samples[path][op]) < IOB_WARMUP ||
	    READ_ONCE(c->phase) == IOB_PHASE_REFERENCE ||
	    !(this_cpu_inc_return(pool->pcpu->tick[op]) % IOB_SAMPLE_EVERY))
		return iob_clock(pool);
	return 0;
}

/*
 * Account a timed call. During warm-up every call is a sample. During a
 * burst, a call may count towards it (see iob_burst_add()). Between bursts
 * a call on the chosen path is a sample unless it started during a burst
 * or in the half burst after it; any other call (a late unmap of a burst's
 * mapping, a mapping made before the last switch) ran in conditions of the
 * other path and is dropped.
 */
static void iob_time_end(struct iommu_dma_bounce_pool *pool, int class,
			 enum iob_path path, enum iommu_dma_bounce_cost_op op,
			 u64 start)
{
	struct iob_cost *c;
	u64 now, ns, end;

	if (!start)
		return;
	c = &pool->cost[class];
	/* local_clock() is per CPU: a migrated caller may see it go back */
	now = iob_clock(pool);
	ns = now > start ? now - start : 0;
	if (!READ_ONCE(c->explore_every)) {
		iob_sample(pool, class, path, op, ns);
		return;
	}
	if (READ_ONCE(c->phase) != IOB_PHASE_WAIT) {
		iob_burst_add(pool, class, path, op, start, ns);
		return;
	}
	end = READ_ONCE(c->burst_end);
	if (path != iob_chosen(c) ||
	    (end && iob_since(start, READ_ONCE(c->burst_start)) >= 0 &&
	     iob_since(start, end) < IOB_SETTLE_NS))
		return;
	iob_sample(pool, class, path, op, ns);
}

/**
 * iommu_dma_bounce_cost_begin - maybe time a call on the IOMMU path
 * @pool: the domain's pool, may be NULL
 * @addr: the buffer's physical or DMA address (its offset in the IOVA
 *	  granule counts towards the size class, as for a bounced mapping)
 * @size: length of the mapping
 * @op: map or unmap
 *
 * dma-iommu brackets the IOMMU work of a mapping that the auto policy could
 * have bounced with this and iommu_dma_bounce_cost_end(), so that the policy
 * learns what the IOMMU path costs. Atomic context is fine.
 *
 * Return: a start time to give to iommu_dma_bounce_cost_end(), or 0.
 */
u64 iommu_dma_bounce_cost_begin(struct iommu_dma_bounce_pool *pool, u64 addr,
				size_t size, enum iommu_dma_bounce_cost_op op)
{
	if (!pool || READ_ONCE(pool->mode) != IOMMU_DMA_BOUNCE_AUTO)
		return 0;
	return iob_time_begin(pool, iommu_dma_bounce_class(pool->granule,
							   addr, size),
			      IOB_PATH_IOMMU, op);
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_cost_begin);

/**
 * iommu_dma_bounce_cost_end - account a timed call on the IOMMU path
 * @pool: the domain's pool, may be NULL
 * @addr: as given to iommu_dma_bounce_cost_begin()
 * @size: as given to iommu_dma_bounce_cost_begin()
 * @op: as given to iommu_dma_bounce_cost_begin()
 * @start: what iommu_dma_bounce_cost_begin() returned; 0 does nothing
 */
void iommu_dma_bounce_cost_end(struct iommu_dma_bounce_pool *pool, u64 addr,
			       size_t size, enum iommu_dma_bounce_cost_op op,
			       u64 start)
{
	if (!pool || !start)
		return;
	iob_time_end(pool, iommu_dma_bounce_class(pool->granule, addr, size),
		     IOB_PATH_IOMMU, op, start);
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_cost_end);

/**
 * iommu_dma_bounce_wanted - does the policy bounce this mapping for speed?
 * @pool: the domain's pool, may be NULL
 * @phys: start of the buffer
 * @size: length of the mapping
 *
 * In mode "auto" this follows the size class's decision, except during
 * warm-up (one mapping in two takes each path) and during the bursts that
 * measure the path not chosen (see the top of this file).
 *
 * Return: true if the mapping should be tried in the pool.
 */
bool iommu_dma_bounce_wanted(struct iommu_dma_bounce_pool *pool,
			     phys_addr_t phys, size_t size)
{
	struct iob_cost *c;
	bool bounce;
	int class;

	if (!pool)
		return false;
	switch (READ_ONCE(pool->mode)) {
	case IOMMU_DMA_BOUNCE_ON:
		return size <= READ_ONCE(pool->threshold);
	case IOMMU_DMA_BOUNCE_AUTO:
		break;
	default:
		return false;
	}
	class = iommu_dma_bounce_class(pool->granule, phys, size);
	if (class < 0)
		return false;
	c = &pool->cost[class];
	bounce = READ_ONCE(c->bounce);
	/* One in two until both paths are warm and iob_decide() has run */
	if (!READ_ONCE(c->explore_every))
		return (this_cpu_inc_return(pool->pcpu->warmup[class]) & 1) ?
			!bounce : bounce;
	return iob_exploring(pool, class) ? !bounce : bounce;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_wanted);

/**
 * iommu_dma_bounce_map - map a buffer through a bounce slot
 * @pool: the domain's pool
 * @dev: device doing DMA
 * @phys: buffer to map
 * @size: its length
 * @dir: DMA direction
 * @attrs: DMA_ATTR_* of the mapping
 * @flags: IOMMU_DMA_BOUNCE_* flags
 *
 * Copies the buffer into a slot for every direction (see the top of this
 * file) and returns the slot's address. May be called from atomic context.
 *
 * Return: the DMA address, or DMA_MAPPING_ERROR when the pool cannot serve
 * the mapping right now and the caller must map it the normal way.
 */
dma_addr_t iommu_dma_bounce_map(struct iommu_dma_bounce_pool *pool,
				struct device *dev, phys_addr_t phys,
				size_t size, enum dma_data_direction dir,
				unsigned long attrs, unsigned int flags)
{
	struct iob_slot *slot;
	bool fresh;
	int class;
	u64 t;

	class = iommu_dma_bounce_class(pool->granule, phys, size);
	if (class < 0) {
		iob_fallback(pool, dev, size, IOMMU_DMA_BOUNCE_FB_TOO_LARGE);
		return DMA_MAPPING_ERROR;
	}
	if (!iob_attrs_ok(pool, dev, size, attrs, flags))
		return DMA_MAPPING_ERROR;

	t = iob_time_begin(pool, class, IOB_PATH_BOUNCE,
			   IOMMU_DMA_BOUNCE_COST_MAP);
	slot = iob_get(pool, dev, class, iob_dma_limit(dev));
	if (!slot)
		return DMA_MAPPING_ERROR;

	fresh = slot->flags & IOB_SLOT_FRESH;
	slot->orig = phys;
	slot->len = size;
	slot->off = phys & (pool->granule - 1);
	slot->flags = 0;
	if (flags & IOMMU_DMA_BOUNCE_UNTRUSTED) {
		slot->flags |= IOB_SLOT_UNTRUSTED;
		iob_zero_padding(slot);
	}
	iob_copy(iob_slot_va(slot) + slot->off, phys, size, true);
	iob_for_device(pool, slot, 0, size, dir);

	/* Syncs must now reach us even for a coherent device */
	dma_reset_need_sync(dev);
	iob_count_map(pool, size);
	trace_iommu_bounce_map(dev, phys, slot->iova + slot->off, size);
	/* Growing is a one-off the pool amortises, not the price of a copy */
	if (!fresh)
		iob_time_end(pool, class, IOB_PATH_BOUNCE,
			     IOMMU_DMA_BOUNCE_COST_MAP, t);
	return slot->iova + slot->off;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_map);

/* Common end of a bounced mapping: copy back, clear, return the slot. */
static void iob_finish(struct iommu_dma_bounce_pool *pool,
		       struct device *dev, struct iob_slot *slot,
		       struct scatterlist *sgl, int nents,
		       enum dma_data_direction dir, unsigned long attrs);

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
			  size != slot->len || (slot->flags & IOB_SLOT_SG),
			  "bad unmap of bounced DMA address %pad size %zu\n",
			  &dma, size))
		return true;
	iob_finish(pool, dev, slot, NULL, 0, dir, attrs);
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_unmap);

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
			  start + size > slot->len ||
			  (slot->flags & IOB_SLOT_SG),
			  "bad sync of bounced DMA address %pad size %zu\n",
			  &dma, size))
		return true;

	if (for_cpu) {
		if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL) {
			iob_for_cpu(pool, slot, start, size, dir);
			iob_copy(iob_slot_va(slot) + slot->off + start,
				 slot->orig + start, size, false);
		}
	} else if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL) {
		iob_copy(iob_slot_va(slot) + slot->off + start,
			 slot->orig + start, size, true);
		iob_for_device(pool, slot, start, size, dir);
	}
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_sync);

/* Copy a scatterlist to (or from) its coalesced bounce slot. */
static void iob_copy_sg(struct iob_slot *slot, struct scatterlist *sgl,
			int nents, bool to_slot)
{
	void *va = iob_slot_va(slot) + slot->off;
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, nents, i) {
		iob_copy(va, sg_phys(s), s->length, to_slot);
		va += s->length;
	}
}

/**
 * iommu_dma_bounce_map_sg - map a scatterlist as one bounced segment
 * @pool: the domain's pool, may be NULL
 * @dev: device doing DMA
 * @sgl: the list
 * @nents: its number of entries
 * @dir: DMA direction
 * @attrs: DMA_ATTR_* of the mapping
 * @flags: IOMMU_DMA_BOUNCE_* flags
 *
 * When the policy bounces the list's total length and the result fits in one
 * DMA segment of @dev (max_seg_size and segment boundary), copy all entries
 * back to back into one slot and describe it as a single segment.
 *
 * Return: 1 if the list was bounced, 0 if the caller must map it.
 */
int iommu_dma_bounce_map_sg(struct iommu_dma_bounce_pool *pool,
			    struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs, unsigned int flags)
{
	unsigned long boundary = dma_get_seg_boundary(dev);
	phys_addr_t phys = sg_phys(sgl);
	struct scatterlist *s;
	struct iob_slot *slot;
	dma_addr_t start;
	size_t total = 0;
	int class, i;
	bool fresh;
	u64 t;

	if (!pool)
		return 0;
	for_each_sg(sgl, s, nents, i) {
		if (is_pci_p2pdma_page(sg_page(s)))
			return 0;
		total += s->length;
	}
	if (!(flags & IOMMU_DMA_BOUNCE_FORCE) &&
	    !iommu_dma_bounce_wanted(pool, phys, total))
		return 0;
	if (total > dma_get_max_seg_size(dev)) {
		iob_fallback(pool, dev, total, IOMMU_DMA_BOUNCE_FB_SG);
		return 0;
	}
	class = iommu_dma_bounce_class(pool->granule, phys, total);
	if (class < 0) {
		iob_fallback(pool, dev, total, IOMMU_DMA_BOUNCE_FB_TOO_LARGE);
		return 0;
	}
	if (!iob_attrs_ok(pool, dev, total, attrs, flags))
		return 0;

	t = iob_time_begin(pool, class, IOB_PATH_BOUNCE,
			   IOMMU_DMA_BOUNCE_COST_MAP);
	slot = iob_get(pool, dev, class, iob_dma_limit(dev));
	if (!slot)
		return 0;
	fresh = slot->flags & IOB_SLOT_FRESH;
	slot->off = phys & (pool->granule - 1);
	start = slot->iova + slot->off;
	/* The one segment must not cross the device's segment boundary */
	if ((start & ~(dma_addr_t)boundary) !=
	    ((start + total - 1) & ~(dma_addr_t)boundary)) {
		iob_put(pool, slot);
		iob_fallback(pool, dev, total, IOMMU_DMA_BOUNCE_FB_SG);
		return 0;
	}

	slot->orig = 0;
	slot->len = total;
	slot->flags = IOB_SLOT_SG;
	if (flags & IOMMU_DMA_BOUNCE_UNTRUSTED) {
		slot->flags |= IOB_SLOT_UNTRUSTED;
		iob_zero_padding(slot);
	}
	iob_copy_sg(slot, sgl, nents, true);
	iob_for_device(pool, slot, 0, total, dir);

	for_each_sg(sgl, s, nents, i) {
		sg_dma_address(s) = DMA_MAPPING_ERROR;
		sg_dma_len(s) = 0;
	}
	sg_dma_address(sgl) = start;
	sg_dma_len(sgl) = total;

	dma_reset_need_sync(dev);
	iob_count_map(pool, total);
	trace_iommu_bounce_map(dev, phys, start, total);
	if (!fresh)
		iob_time_end(pool, class, IOB_PATH_BOUNCE,
			     IOMMU_DMA_BOUNCE_COST_MAP, t);
	return 1;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_map_sg);

/* Find the coalesced slot behind a mapped scatterlist. */
static struct iob_slot *iob_lookup_sg(struct iommu_dma_bounce_pool *pool,
				      struct scatterlist *sgl)
{
	struct iob_slot *slot;

	if (!pool || sg_dma_is_bus_address(sgl) || !sg_dma_len(sgl))
		return NULL;
	slot = iob_lookup(pool, sg_dma_address(sgl));
	if (slot && !(slot->flags & IOB_SLOT_SG))
		return NULL;
	return slot;
}

/**
 * iommu_dma_bounce_unmap_sg - end a scatterlist mapping if it was bounced
 * @pool: the domain's pool, may be NULL
 * @dev: device doing DMA
 * @sgl: the list given to iommu_dma_bounce_map_sg()
 * @nents: its number of entries, as given at map time
 * @dir: DMA direction
 * @attrs: DMA_ATTR_* of the mapping
 *
 * Return: false if the list was not bounced.
 */
bool iommu_dma_bounce_unmap_sg(struct iommu_dma_bounce_pool *pool,
			       struct device *dev, struct scatterlist *sgl,
			       int nents, enum dma_data_direction dir,
			       unsigned long attrs)
{
	struct iob_slot *slot = iob_lookup_sg(pool, sgl);

	if (!slot)
		return false;
	iob_finish(pool, dev, slot, sgl, nents, dir, attrs);
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_unmap_sg);

/**
 * iommu_dma_bounce_sync_sg - sync a bounced scatterlist
 * @pool: the domain's pool, may be NULL
 * @dev: device doing DMA
 * @sgl: the mapped list
 * @nents: its number of entries, as given at map time
 * @dir: DMA direction
 * @for_cpu: true to hand the list to the CPU, false to the device
 *
 * Return: false if the list was not bounced.
 */
bool iommu_dma_bounce_sync_sg(struct iommu_dma_bounce_pool *pool,
			      struct device *dev, struct scatterlist *sgl,
			      int nents, enum dma_data_direction dir,
			      bool for_cpu)
{
	struct iob_slot *slot = iob_lookup_sg(pool, sgl);

	if (!slot)
		return false;
	if (for_cpu) {
		if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL) {
			iob_for_cpu(pool, slot, 0, slot->len, dir);
			iob_copy_sg(slot, sgl, nents, false);
		}
	} else if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL) {
		iob_copy_sg(slot, sgl, nents, true);
		iob_for_device(pool, slot, 0, slot->len, dir);
	}
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_sync_sg);

static void iob_finish(struct iommu_dma_bounce_pool *pool,
		       struct device *dev, struct iob_slot *slot,
		       struct scatterlist *sgl, int nents,
		       enum dma_data_direction dir, unsigned long attrs)
{
	void *data = iob_slot_va(slot) + slot->off;
	unsigned int class = slot->class;
	u64 t = iob_time_begin(pool, class, IOB_PATH_BOUNCE,
			       IOMMU_DMA_BOUNCE_COST_UNMAP);

	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
	    (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)) {
		iob_for_cpu(pool, slot, 0, slot->len, dir);
		if (sgl)
			iob_copy_sg(slot, sgl, nents, false);
		else
			iob_copy(data, slot->orig, slot->len, false);
	}
	if (slot->flags & IOB_SLOT_UNTRUSTED)
		memset(data, 0, slot->len);
	trace_iommu_bounce_unmap(dev, slot->iova + slot->off, slot->len);
	/* @slot may be reused or freed as soon as it is back */
	iob_put(pool, slot);
	iob_time_end(pool, class, IOB_PATH_BOUNCE, IOMMU_DMA_BOUNCE_COST_UNMAP,
		     t);
}

/* Move every idle slot of every CPU stack of @class to the depot. */
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

/**
 * iommu_dma_bounce_age - free the slots that have been idle long enough
 * @pool: the pool
 * @now: the current time in jiffies (a parameter so tests can move it)
 *
 * A CPU stack untouched for IOB_IDLE_TIME goes to the depot first; then every
 * depot slot idle for IOB_IDLE_TIME is released. Process context.
 *
 * Return: the number of slots freed.
 */
VISIBLE_IF_KUNIT unsigned long
iommu_dma_bounce_age(struct iommu_dma_bounce_pool *pool, unsigned long now)
{
	struct iob_slot *slot, *tmp;
	unsigned long flags, n;
	LIST_HEAD(victims);
	unsigned int class;

	for (class = 0; class < IOB_NR_CLASSES; class++) {
		struct iob_depot *depot = &pool->depot[class];

		iob_drain_cpus(pool, class, now, false);
		spin_lock_irqsave(&depot->lock, flags);
		list_for_each_entry_safe(slot, tmp, &depot->free, node) {
			if (time_after_eq(now, slot->last_used + IOB_IDLE_TIME)) {
				list_move(&slot->node, &victims);
				depot->count--;
			}
		}
		spin_unlock_irqrestore(&depot->lock, flags);
	}
	n = iob_release(pool, &victims, IOB_REL_AGING);
	atomic_long_add(n, &pool->freed_aging);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_age);

/**
 * iommu_dma_bounce_shrink - free up to @nr idle slots, oldest first
 * @pool: the pool
 * @nr: how many to free at most
 *
 * Process context.
 *
 * Return: the number of slots freed.
 */
VISIBLE_IF_KUNIT unsigned long
iommu_dma_bounce_shrink(struct iommu_dma_bounce_pool *pool, unsigned long nr)
{
	unsigned long flags, n = 0;
	struct iob_slot *slot, *tmp;
	LIST_HEAD(victims);
	unsigned int class;

	for (class = 0; class < IOB_NR_CLASSES && n < nr; class++) {
		struct iob_depot *depot = &pool->depot[class];

		iob_drain_cpus(pool, class, 0, true);
		spin_lock_irqsave(&depot->lock, flags);
		list_for_each_entry_safe_reverse(slot, tmp, &depot->free,
						 node) {
			if (n == nr)
				break;
			list_move(&slot->node, &victims);
			depot->count--;
			n++;
		}
		spin_unlock_irqrestore(&depot->lock, flags);
	}
	n = iob_release(pool, &victims, IOB_REL_SHRINKER);
	atomic_long_add(n, &pool->freed_shrinker);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_shrink);

static void iob_age_work(struct work_struct *work)
{
	struct iommu_dma_bounce_pool *pool =
		container_of(to_delayed_work(work), struct iommu_dma_bounce_pool,
			     age_work);

	iommu_dma_bounce_age(pool, jiffies);
	if (atomic_long_read(&pool->bytes))
		queue_delayed_work(system_unbound_wq, &pool->age_work,
				   IOB_AGE_PERIOD);
}

static unsigned long iob_free_slots(struct iommu_dma_bounce_pool *pool)
{
	unsigned long n = 0;
	unsigned int class;
	int cpu;

	/* A racy sum is fine for statistics and the shrinker's count */
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
		n += iob_free_slots(pool);
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
		n += iommu_dma_bounce_shrink(pool, sc->nr_to_scan - n);
	}
	mutex_unlock(&iob_pools_lock);
	return n ? n : SHRINK_STOP;
}

/**
 * iommu_dma_bounce_get_stats - snapshot of a pool's counters
 * @pool: the pool
 * @st: filled in
 */
VISIBLE_IF_KUNIT void
iommu_dma_bounce_get_stats(struct iommu_dma_bounce_pool *pool,
			   struct iommu_dma_bounce_stats *st)
{
	unsigned int class, i;
	int cpu;

	memset(st, 0, sizeof(*st));
	for (class = 0; class < IOB_NR_CLASSES; class++) {
		st->slots[class] = atomic_long_read(&pool->nr[class]);
		st->free[class] = READ_ONCE(pool->depot[class].count);
		for_each_possible_cpu(cpu)
			st->free[class] += READ_ONCE(per_cpu_ptr(pool->pcpu,
						     cpu)->cache[class].count);
	}
	for_each_possible_cpu(cpu) {
		st->maps += per_cpu_ptr(pool->pcpu, cpu)->maps;
		st->maps_softirq += per_cpu_ptr(pool->pcpu, cpu)->maps_softirq;
		st->maps_hardirq += per_cpu_ptr(pool->pcpu, cpu)->maps_hardirq;
		st->bytes_bounced += per_cpu_ptr(pool->pcpu, cpu)->bytes_bounced;
	}
	for (i = 0; i < IOMMU_DMA_BOUNCE_NR_FALLBACKS; i++)
		st->fallbacks[i] = atomic_long_read(&pool->fallbacks[i]);
	st->bytes = atomic_long_read(&pool->bytes);
	st->freed_aging = atomic_long_read(&pool->freed_aging);
	st->freed_shrinker = atomic_long_read(&pool->freed_shrinker);
	st->syncs = atomic_long_read(&pool->syncs);
	st->leaked = atomic_long_read(&pool->leaked);
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_get_stats);

static const char * const iob_mode_names[] = {
	[IOMMU_DMA_BOUNCE_OFF]	= "off",
	[IOMMU_DMA_BOUNCE_ON]	= "on",
	[IOMMU_DMA_BOUNCE_AUTO]	= "auto",
};

/**
 * iommu_dma_bounce_auto_get - the auto policy's state for one size class
 * @pool: the pool
 * @class: the size class
 * @st: filled in
 */
VISIBLE_IF_KUNIT void
iommu_dma_bounce_auto_get(struct iommu_dma_bounce_pool *pool,
			  unsigned int class,
			  struct iommu_dma_bounce_auto_state *st)
{
	struct iob_cost *c = &pool->cost[class];
	enum iob_path path;

	st->bounce = READ_ONCE(c->bounce);
	st->iommu_ns = iob_path_cost(c, IOB_PATH_IOMMU);
	st->bounce_ns = iob_path_cost(c, IOB_PATH_BOUNCE);
	st->recent_ns = READ_ONCE(c->recent[IOMMU_DMA_BOUNCE_COST_MAP]) +
			READ_ONCE(c->recent[IOMMU_DMA_BOUNCE_COST_UNMAP]);
	for (path = IOB_PATH_IOMMU; path < IOB_NR_PATHS; path++)
		st->samples[path] =
			READ_ONCE(c->samples[path][IOMMU_DMA_BOUNCE_COST_MAP]) +
			READ_ONCE(c->samples[path][IOMMU_DMA_BOUNCE_COST_UNMAP]);
	st->switches = READ_ONCE(c->switches);
	st->explore_every = READ_ONCE(c->explore_every) ?: 2;
	st->bursts = READ_ONCE(c->bursts);
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_auto_get);

/**
 * iommu_dma_bounce_auto_sample - feed the auto policy one measurement
 * @pool: the pool
 * @class: the size class
 * @bounced: whether it was taken on the pool path
 * @op: map or unmap
 * @ns: what it cost
 *
 * What a timed call does once it has its duration; for tests with fake costs.
 */
VISIBLE_IF_KUNIT void
iommu_dma_bounce_auto_sample(struct iommu_dma_bounce_pool *pool,
			     unsigned int class, bool bounced,
			     enum iommu_dma_bounce_cost_op op, u64 ns)
{
	iob_sample(pool, class, bounced ? IOB_PATH_BOUNCE : IOB_PATH_IOMMU, op,
		   ns);
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_auto_sample);

/**
 * iommu_dma_bounce_auto_burst - feed the auto policy one burst's means
 * @pool: the pool
 * @class: a warm size class
 * @iommu_ns: mean cost of a map and of an unmap on the IOMMU path
 * @bounce_ns: the same on the pool path
 *
 * What the end of a burst does once it has timed calls of both paths, the
 * chosen one in the reference and the other one in the burst, with these
 * means; for tests with fake costs.
 */
VISIBLE_IF_KUNIT void
iommu_dma_bounce_auto_burst(struct iommu_dma_bounce_pool *pool,
			    unsigned int class,
			    const u64 iommu_ns[IOMMU_DMA_BOUNCE_NR_COST_OPS],
			    const u64 bounce_ns[IOMMU_DMA_BOUNCE_NR_COST_OPS])
{
	struct iob_cost *c = &pool->cost[class];
	enum iommu_dma_bounce_cost_op op;
	unsigned long flags;
	u64 now = iob_clock(pool);

	spin_lock_irqsave(&c->lock, flags);
	for (op = 0; op < IOMMU_DMA_BOUNCE_NR_COST_OPS; op++) {
		c->burst_ns[IOB_PATH_IOMMU][op] = iommu_ns[op];
		c->burst_ns[IOB_PATH_BOUNCE][op] = bounce_ns[op];
		c->burst_calls[IOB_PATH_IOMMU][op] = 1;
		c->burst_calls[IOB_PATH_BOUNCE][op] = 1;
	}
	c->burst_path = iob_explored(c);
	c->burst_start = now;
	c->burst_end = now;
	iob_burst_fold(pool, class);
	c->phase = IOB_PHASE_WAIT;
	spin_unlock_irqrestore(&c->lock, flags);
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_auto_burst);

static int iob_stats_show(struct seq_file *m, void *v)
{
	struct iommu_dma_bounce_pool *pool = m->private;
	struct iommu_dma_bounce_stats st;
	unsigned int class, i;

	iommu_dma_bounce_get_stats(pool, &st);
	seq_printf(m, "mode: %s\n", iob_mode_names[READ_ONCE(pool->mode)]);
	seq_printf(m, "threshold: %zu\n", READ_ONCE(pool->threshold));
	seq_printf(m, "max_bytes: %zu\n", READ_ONCE(pool->max_bytes));
	seq_printf(m, "bytes: %lu\n", st.bytes);
	seq_printf(m, "maps: %lu\n", st.maps);
	seq_printf(m, "maps_softirq: %lu\n", st.maps_softirq);
	seq_printf(m, "maps_hardirq: %lu\n", st.maps_hardirq);
	seq_printf(m, "bytes_bounced: %lu\n", st.bytes_bounced);
	for (i = 0; i < IOMMU_DMA_BOUNCE_NR_FALLBACKS; i++)
		seq_printf(m, "fallback_%s: %lu\n", iob_fallback_names[i],
			   st.fallbacks[i]);
	seq_printf(m, "freed_aging: %lu\n", st.freed_aging);
	seq_printf(m, "freed_shrinker: %lu\n", st.freed_shrinker);
	seq_printf(m, "iotlb_syncs: %lu\n", st.syncs);
	seq_printf(m, "leaked_bytes: %lu\n", st.leaked);
	for (class = 0; class < IOB_NR_CLASSES; class++) {
		size_t size = iob_class_size(class);

		seq_printf(m, "slots_%zu: %lu\n", size, st.slots[class]);
		seq_printf(m, "in_use_%zu: %lu\n", size,
			   st.slots[class] - min(st.slots[class],
						 st.free[class]));
		/*
		 * Unclamped, unlike in_use. Read without locks, a spill to
		 * the depot may be counted twice for a moment; with no DMA
		 * in flight, more idle than slots on every read means a
		 * slot sits on two free lists at once.
		 */
		seq_printf(m, "idle_%zu: %lu\n", size, st.free[class]);
		seq_printf(m, "hiwater_%zu: %ld\n", size,
			   atomic_long_read(&pool->hiwater[class]));
	}
	/* The auto policy's decisions and the estimates behind them */
	for (class = 0; class < IOB_NR_CLASSES; class++) {
		struct iommu_dma_bounce_auto_state a;

		iommu_dma_bounce_auto_get(pool, class, &a);
		seq_printf(m, "class_%zu: %s iommu_ns=%llu bounce_ns=%llu recent_ns=%llu samples=%lu/%lu switches=%lu explore=1/%u bursts=%lu\n",
			   iob_class_size(class), a.bounce ? "bounce" : "iommu",
			   a.iommu_ns, a.bounce_ns, a.recent_ns,
			   a.samples[IOB_PATH_IOMMU],
			   a.samples[IOB_PATH_BOUNCE], a.switches,
			   a.explore_every, a.bursts);
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

/**
 * iommu_dma_bounce_set_policy - set a pool's policy
 * @pool: the pool
 * @mode: an enum iommu_dma_bounce_mode
 * @threshold: largest mapping bounced for speed
 * @max_bytes: cap on the pool's memory
 */
VISIBLE_IF_KUNIT void
iommu_dma_bounce_set_policy(struct iommu_dma_bounce_pool *pool,
			    enum iommu_dma_bounce_mode mode, size_t threshold,
			    size_t max_bytes)
{
	WRITE_ONCE(pool->mode, mode);
	WRITE_ONCE(pool->threshold, min_t(size_t, threshold, IOB_MAX_SLOT));
	WRITE_ONCE(pool->max_bytes, max_bytes);
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_set_policy);

/**
 * iommu_dma_bounce_slot_vaddr - the CPU address behind a bounced DMA address
 * @pool: the pool
 * @dma: an address inside a slot
 *
 * Return: the kernel virtual address, or NULL if @dma is not in a slot.
 */
VISIBLE_IF_KUNIT void *
iommu_dma_bounce_slot_vaddr(struct iommu_dma_bounce_pool *pool, dma_addr_t dma)
{
	struct iob_slot *slot = iob_lookup(pool, dma);

	return slot ? iob_slot_va(slot) + (dma - slot->iova) : NULL;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_slot_vaddr);

/**
 * iommu_dma_bounce_pool_create - create the bounce pool of a DMA domain
 * @ops: how the pool reaches the domain
 * @ctx: argument for @ops
 * @granule: the domain's IOVA granule, at most PAGE_SIZE
 * @nid: NUMA node of the domain's device
 * @coherent: whether the devices are DMA-coherent
 * @name: name for debugfs and traces
 *
 * Takes no IOVA space and no slot memory: slots are made on first use.
 *
 * Return: the pool, or NULL (the domain then never bounces through a pool).
 */
struct iommu_dma_bounce_pool *
iommu_dma_bounce_pool_create(const struct iommu_dma_bounce_ops *ops,
			     void *ctx, unsigned long granule, int nid,
			     bool coherent, const char *name)
{
	struct iommu_dma_bounce_pool *pool;
	unsigned int class;
	int cpu;

	if (granule > PAGE_SIZE) {
		pr_info("%s: IOVA granule %lu above PAGE_SIZE, no bounce pool\n",
			name, granule);
		return NULL;
	}
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
		spin_lock_init(&pool->cost[class].lock);
	}
	xa_init_flags(&pool->slots, XA_FLAGS_LOCK_IRQ);
	INIT_DELAYED_WORK(&pool->age_work, iob_age_work);
	pool->ops = ops;
	pool->ctx = ctx;
	pool->granule = granule;
	pool->nid = nid;
	pool->coherent = coherent;
	strscpy(pool->name, name, sizeof(pool->name));
	iommu_dma_bounce_set_policy(pool, iob_default_mode,
				    iob_default_threshold,
				    iob_default_max_bytes);

	iob_debugfs_add(pool);
	mutex_lock(&iob_pools_lock);
	list_add(&pool->node, &iob_pools);
	mutex_unlock(&iob_pools_lock);
	return pool;

nomem:
	pr_warn("%s: no memory for a bounce pool\n", name);
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_pool_create);

/**
 * iommu_dma_bounce_pool_destroy - free a pool and all its slots
 * @pool: the pool, may be NULL
 *
 * Called while the domain still exists, so slots can be unmapped. Slots still
 * mapped by a driver are a driver bug: they are reported and freed too.
 */
void iommu_dma_bounce_pool_destroy(struct iommu_dma_bounce_pool *pool)
{
	unsigned long idx, in_use, total = 0;
	struct iob_slot *slot;
	LIST_HEAD(victims);
	unsigned int class;

	if (!pool)
		return;
	mutex_lock(&iob_pools_lock);
	list_del(&pool->node);
	mutex_unlock(&iob_pools_lock);
	cancel_delayed_work_sync(&pool->age_work);
	debugfs_remove_recursive(pool->debugfs);

	for (class = 0; class < IOB_NR_CLASSES; class++)
		total += atomic_long_read(&pool->nr[class]);
	in_use = total - min(total, iob_free_slots(pool));
	if (in_use)
		pr_warn("%s: %lu bounce slots still mapped at teardown\n",
			pool->name, in_use);

	/* The stacks and depots die with the pool: collect every slot */
	xa_for_each(&pool->slots, idx, slot)
		if (idx == slot->iova >> PAGE_SHIFT)
			list_add(&slot->node, &victims);
	iob_release(pool, &victims, IOB_REL_TEARDOWN);
	WARN_ON(atomic_long_read(&pool->bytes));

	xa_destroy(&pool->slots);
	free_percpu(pool->pcpu);
	kfree(pool);
}
EXPORT_SYMBOL_IF_KUNIT(iommu_dma_bounce_pool_destroy);

/**
 * iommu_dma_bounce_attr_show - show a group's bounce attribute
 * @domain: the group's default domain, may be NULL
 * @attr: which attribute
 * @buf: sysfs buffer
 *
 * Return: bytes written, or -EINVAL if the group has no DMA domain with a pool.
 */
ssize_t iommu_dma_bounce_attr_show(struct iommu_domain *domain,
				   enum iommu_dma_bounce_attr attr, char *buf)
{
	struct iommu_dma_bounce_pool *pool;
	unsigned int class;
	ssize_t len = 0;

	pool = domain ? iommu_dma_domain_bounce_pool(domain) : NULL;
	if (!pool)
		return -EINVAL;
	if (attr == IOMMU_DMA_BOUNCE_ATTR_MODE)
		return sysfs_emit(buf, "%s\n",
				  iob_mode_names[READ_ONCE(pool->mode)]);
	if (attr == IOMMU_DMA_BOUNCE_ATTR_THRESHOLD)
		return sysfs_emit(buf, "%zu\n", READ_ONCE(pool->threshold));

	/* One line per size class: bytes, decision, the two estimates */
	for (class = 0; class < IOB_NR_CLASSES; class++) {
		struct iommu_dma_bounce_auto_state a;

		iommu_dma_bounce_auto_get(pool, class, &a);
		len += sysfs_emit_at(buf, len, "%zu %s %llu %llu\n",
				     iob_class_size(class),
				     a.bounce ? "bounce" : "iommu",
				     a.iommu_ns, a.bounce_ns);
	}
	return len;
}

/**
 * iommu_dma_bounce_attr_store - set a group's bounce attribute
 * @domain: the group's default domain, may be NULL
 * @attr: which attribute
 * @buf: what was written
 * @count: its length
 *
 * "bounce" takes "auto" or a boolean (0/1, on/off); "bounce_threshold" a
 * byte count from 0 to the largest slot size; "bounce_auto" is read-only.
 * Anything else changes nothing.
 *
 * Return: @count, or -EINVAL.
 */
ssize_t iommu_dma_bounce_attr_store(struct iommu_domain *domain,
				    enum iommu_dma_bounce_attr attr,
				    const char *buf, size_t count)
{
	struct iommu_dma_bounce_pool *pool;
	unsigned long val;
	int mode;

	pool = domain ? iommu_dma_domain_bounce_pool(domain) : NULL;
	if (!pool)
		return -EINVAL;
	if (attr == IOMMU_DMA_BOUNCE_ATTR_MODE) {
		mode = iob_parse_mode(buf);
		if (mode < 0)
			return mode;
		WRITE_ONCE(pool->mode, mode);
		return count;
	}
	if (attr != IOMMU_DMA_BOUNCE_ATTR_THRESHOLD ||
	    kstrtoul(buf, 0, &val) || val > IOB_MAX_SLOT)
		return -EINVAL;
	WRITE_ONCE(pool->threshold, val);
	return count;
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
