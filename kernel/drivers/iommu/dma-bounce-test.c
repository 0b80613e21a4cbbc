// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the IOMMU DMA bounce pools, built into dma-bounce.c
 * (included at its end) so that they reach its internals.
 *
 * The pool is driven through a fake IOMMU domain that records every IOVA
 * allocation, map, unmap and IOTLB sync, and translates IOVAs the way the
 * device would see them. "The device writes" means writing through that
 * translation, into the slot.
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/debug_locks.h>
#include <linux/delay.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/irq_work.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/random.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "dma-bounce.h"

#define FAKE_IOVA_TOP		BIT_ULL(40)
#define FAKE_IOVA_BOTTOM	SZ_1M
#define TEST_MAX_SLOT		(PAGE_SIZE << (IOMMU_DMA_BOUNCE_NR_CLASSES - 1))
#define TEST_MAX_BYTES		SZ_4M
#define TEST_IDLE_LATER		(10 * HZ)
#define TEST_MASK_28		DMA_BIT_MASK(28)
#define TEST_STEAL_SLOTS	8	/* fewer than a CPU stack holds */

struct fake_domain {
	/*
	 * Protects everything below. Taken with interrupts off, like @pages'
	 * lock: one case maps from hardirq and softirq context.
	 */
	spinlock_t lock;
	u64 cursor;		/* IOVAs are handed out downwards from here */
	struct xarray pages;	/* IOVA pfn -> xa_mk_value(phys pfn) */
	unsigned long iova_allocs, iova_frees, maps, unmaps, syncs;
	bool fail_iova, fail_map, fail_unmap;
	int last_prot;		/* IOMMU_* of the last map */
};

struct iob_test {
	struct fake_domain fake;
	struct device *dev;
	u64 mask;
	struct device_dma_parameters parms;
	struct iommu_dma_bounce_pool *pool;
};

static dma_addr_t fake_alloc_iova(void *ctx, struct device *dev, size_t size,
				  u64 dma_limit)
{
	struct fake_domain *fake = ctx;
	size_t len = roundup_pow_of_two(size);
	u64 top, iova = 0;
	unsigned long flags;

	spin_lock_irqsave(&fake->lock, flags);
	/* Written to avoid dma_limit + 1 overflowing for a 64-bit mask */
	top = min_t(u64, fake->cursor - 1, dma_limit) + 1;
	if (!fake->fail_iova && top >= FAKE_IOVA_BOTTOM + len) {
		iova = ALIGN_DOWN(top - len, len);
		fake->cursor = iova;
		fake->iova_allocs++;
	}
	spin_unlock_irqrestore(&fake->lock, flags);
	return iova;
}

static void fake_free_iova(void *ctx, dma_addr_t iova, size_t size)
{
	struct fake_domain *fake = ctx;
	unsigned long flags;

	spin_lock_irqsave(&fake->lock, flags);
	fake->iova_frees++;
	spin_unlock_irqrestore(&fake->lock, flags);
}

static int fake_map(void *ctx, dma_addr_t iova, phys_addr_t phys, size_t size,
		    int prot, gfp_t gfp)
{
	struct fake_domain *fake = ctx;
	unsigned long flags, i;
	int err = 0;

	if (READ_ONCE(fake->fail_map))
		return -EIO;
	/* The pool may map from hardirq context: an irq-safe array */
	xa_lock_irqsave(&fake->pages, flags);
	for (i = 0; i < size >> PAGE_SHIFT && !err; i++)
		err = xa_err(__xa_store(&fake->pages, (iova >> PAGE_SHIFT) + i,
					xa_mk_value((phys >> PAGE_SHIFT) + i),
					GFP_ATOMIC));
	xa_unlock_irqrestore(&fake->pages, flags);
	if (err)
		return err;
	spin_lock_irqsave(&fake->lock, flags);
	fake->maps++;
	fake->last_prot = prot;
	spin_unlock_irqrestore(&fake->lock, flags);
	return 0;
}

static size_t fake_unmap(void *ctx, dma_addr_t iova, size_t size,
			 struct iommu_iotlb_gather *gather)
{
	struct fake_domain *fake = ctx;
	unsigned long flags, i;

	/* Like an IOMMU driver that could not queue its unmap request */
	if (READ_ONCE(fake->fail_unmap))
		return 0;
	xa_lock_irqsave(&fake->pages, flags);
	for (i = 0; i < size >> PAGE_SHIFT; i++)
		__xa_erase(&fake->pages, (iova >> PAGE_SHIFT) + i);
	xa_unlock_irqrestore(&fake->pages, flags);
	spin_lock_irqsave(&fake->lock, flags);
	fake->unmaps++;
	spin_unlock_irqrestore(&fake->lock, flags);
	return size;
}

static void fake_sync(void *ctx, struct iommu_iotlb_gather *gather)
{
	struct fake_domain *fake = ctx;
	unsigned long flags;

	spin_lock_irqsave(&fake->lock, flags);
	fake->syncs++;
	spin_unlock_irqrestore(&fake->lock, flags);
}

static const struct iommu_dma_bounce_ops fake_ops = {
	.alloc_iova	= fake_alloc_iova,
	.free_iova	= fake_free_iova,
	.map		= fake_map,
	.unmap		= fake_unmap,
	.sync		= fake_sync,
};

/* What the device reaches at @dma: a kernel address, or NULL if unmapped */
static void *fake_translate(struct fake_domain *fake, dma_addr_t dma)
{
	void *entry = xa_load(&fake->pages, dma >> PAGE_SHIFT);

	if (!entry)
		return NULL;
	return phys_to_virt(PFN_PHYS(xa_to_value(entry)) + offset_in_page(dma));
}

static unsigned long fake_mapped_pages(struct fake_domain *fake)
{
	unsigned long idx, n = 0;
	void *entry;

	xa_for_each(&fake->pages, idx, entry)
		n++;
	return n;
}

/* The device writes @len bytes of @val at @dma, page by page. */
static void device_write(struct kunit *test, struct fake_domain *fake,
			 dma_addr_t dma, int val, size_t len)
{
	while (len) {
		size_t chunk = min_t(size_t, len,
				     PAGE_SIZE - offset_in_page(dma));
		void *va = fake_translate(fake, dma);

		KUNIT_ASSERT_NOT_NULL(test, va);
		memset(va, val, chunk);
		dma += chunk;
		len -= chunk;
	}
}

static bool all_bytes(const void *buf, int val, size_t len)
{
	return !memchr_inv(buf, val, len);
}

/* Replace the test's pool by one created with @flags, in mode "on". */
static void test_repool(struct kunit *test, unsigned int flags)
{
	struct iob_test *t = test->priv;

	iommu_dma_bounce_pool_destroy(t->pool);
	t->pool = iob_pool_alloc(&fake_ops, &t->fake, PAGE_SIZE, NUMA_NO_NODE,
				 flags, "kunit");
	KUNIT_ASSERT_NOT_NULL(test, t->pool);
	iob_pool_publish(t->pool);
	iob_set_policy(t->pool, IOMMU_DMA_BOUNCE_ON,
		       TEST_MAX_SLOT, TEST_MAX_BYTES);
}

static int iob_test_init(struct kunit *test)
{
	struct iob_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	spin_lock_init(&t->fake.lock);
	xa_init_flags(&t->fake.pages, XA_FLAGS_LOCK_IRQ);
	t->fake.cursor = FAKE_IOVA_TOP;

	t->dev = kunit_device_register(test, "iommu-dma-bounce-test");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, t->dev);
	t->mask = DMA_BIT_MASK(64);
	t->dev->dma_mask = &t->mask;
	t->dev->coherent_dma_mask = t->mask;
	t->parms.max_segment_size = UINT_MAX;
	t->parms.segment_boundary_mask = ULONG_MAX;
	t->dev->dma_parms = &t->parms;
#if defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_DEVICE) || \
	defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU) || \
	defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU_ALL)
	/* A coherent device, as on x86, whatever the arch's default */
	t->dev->dma_coherent = true;
#endif

	test->priv = t;
	test_repool(test, 0);
	return 0;
}

static void iob_test_exit(struct kunit *test)
{
	struct iob_test *t = test->priv;

	iommu_dma_bounce_pool_destroy(t->pool);
	xa_destroy(&t->fake.pages);
}

static void *test_buf(struct kunit *test, size_t size, int val)
{
	void *buf = kunit_kmalloc(test, size, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(buf, val, size);
	return buf;
}

static dma_addr_t test_map(struct kunit *test, void *buf, size_t size,
			   enum dma_data_direction dir, unsigned int flags)
{
	struct iob_test *t = test->priv;

	return iommu_dma_bounce_map(t->pool, t->dev, virt_to_phys(buf), size,
				    dir, 0, flags);
}

/* A mapping that must bounce: 100 bytes at offset 1 of @buf (sub-granule) */
static dma_addr_t test_map_forced(struct kunit *test, u8 *buf)
{
	return test_map(test, buf + 1, 100, DMA_TO_DEVICE,
			IOMMU_DMA_BOUNCE_FORCE);
}

static void test_unmap(struct kunit *test, dma_addr_t dma, size_t size,
		       enum dma_data_direction dir, unsigned long attrs)
{
	struct iob_test *t = test->priv;

	KUNIT_ASSERT_TRUE(test, iommu_dma_bounce_unmap(t->pool, t->dev, dma,
						       size, dir, attrs));
}

/* Make @n slots of one page and leave them idle, addresses in @dma. */
static void test_idle_slots(struct kunit *test, dma_addr_t *dma, int n)
{
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	int i;

	for (i = 0; i < n; i++) {
		dma[i] = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
		KUNIT_ASSERT_NE(test, dma[i], DMA_MAPPING_ERROR);
	}
	for (i = 0; i < n; i++)
		test_unmap(test, dma[i], PAGE_SIZE, DMA_TO_DEVICE, 0);
}

static struct iommu_dma_bounce_stats *test_stats(struct kunit *test)
{
	struct iob_test *t = test->priv;
	struct iommu_dma_bounce_stats *st;

	st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, st);
	iob_get_stats(t->pool, st);
	return st;
}

static void iob_class_sizes(struct kunit *test)
{
	/* Classes follow the IOVA granule, not PAGE_SIZE */
	KUNIT_EXPECT_EQ(test, iob_class(SZ_2K, 0, SZ_2K), 0);
	KUNIT_EXPECT_EQ(test, iob_class(SZ_2K, 0, SZ_2K + 1), 1);
	KUNIT_EXPECT_EQ(test, iob_class(SZ_2K, 0, SZ_64K), 5);
	KUNIT_EXPECT_EQ(test, iob_class(SZ_2K, 0, SZ_64K + 1), -1);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 0, 1), 0);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 0, PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 0, PAGE_SIZE + 1), 1);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 0, 3 * PAGE_SIZE), 2);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 0, TEST_MAX_SLOT),
			IOMMU_DMA_BOUNCE_NR_CLASSES - 1);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 0, TEST_MAX_SLOT + 1), -1);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 0, 0), -1);
}

static void iob_class_counts_offset(struct kunit *test)
{
	/* The granule offset is kept, so it takes room in the slot */
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 100, PAGE_SIZE - 100), 0);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 100, PAGE_SIZE), 1);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, PAGE_SIZE + 100,
					PAGE_SIZE - 100), 0);
	KUNIT_EXPECT_EQ(test, iob_class(PAGE_SIZE, 1, TEST_MAX_SLOT), -1);
}

static void iob_no_iova_at_create(struct kunit *test)
{
	struct iob_test *t = test->priv;

	KUNIT_EXPECT_EQ(test, t->fake.iova_allocs, 0);
	KUNIT_EXPECT_EQ(test, t->fake.maps, 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->bytes, 0);
}

static void iob_map_copies_to_slot(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, 2 * PAGE_SIZE, 0x5a);
	size_t off = 100, len = 512;
	dma_addr_t dma;
	void *va;

	dma = test_map(test, buf + off, len, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	/* The granule offset is kept (dma_get_min_align_mask users) */
	KUNIT_EXPECT_EQ(test, dma & (PAGE_SIZE - 1),
			virt_to_phys(buf + off) & (PAGE_SIZE - 1));
	va = fake_translate(&t->fake, dma);
	KUNIT_ASSERT_NOT_NULL(test, va);
	/* The device sees the slot, never the caller's page */
	KUNIT_EXPECT_PTR_NE(test, va, (void *)(buf + off));
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0x5a, len));
	test_unmap(test, dma, len, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->maps, 1);
	KUNIT_EXPECT_EQ(test, test_stats(test)->bytes_bounced, len);
}

static void iob_from_device_keeps_unwritten_tail(struct kunit *test)
{
	struct iob_test *t = test->priv;
	size_t len = PAGE_SIZE;
	u8 *buf = test_buf(test, len, 0x11);
	dma_addr_t dma;

	dma = test_map(test, buf, len, DMA_FROM_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	/* A short write: the device fills only the first half */
	device_write(test, &t->fake, dma, 0x22, len / 2);
	test_unmap(test, dma, len, DMA_FROM_DEVICE, 0);
	KUNIT_EXPECT_TRUE(test, all_bytes(buf, 0x22, len / 2));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf + len / 2, 0x11, len / 2));
}

static void iob_no_stale_data_from_earlier_mapping(struct kunit *test)
{
	struct iob_test *t = test->priv;
	size_t len = PAGE_SIZE;
	u8 *first = test_buf(test, len, 0);
	u8 *second = test_buf(test, len, 0x33);
	dma_addr_t dma1, dma2;

	dma1 = test_map(test, first, len, DMA_FROM_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma1, DMA_MAPPING_ERROR);
	device_write(test, &t->fake, dma1, 0xee, len);	/* "secret" */
	test_unmap(test, dma1, len, DMA_FROM_DEVICE, 0);
	KUNIT_EXPECT_TRUE(test, all_bytes(first, 0xee, len));

	/* Same slot again; this time the device writes nothing at all */
	dma2 = test_map(test, second, len, DMA_FROM_DEVICE, 0);
	KUNIT_ASSERT_EQ(test, dma2, dma1);
	test_unmap(test, dma2, len, DMA_FROM_DEVICE, 0);
	KUNIT_EXPECT_TRUE(test, all_bytes(second, 0x33, len));
}

static void iob_to_device_unmap_leaves_buffer(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 0x44);
	dma_addr_t dma;

	dma = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	device_write(test, &t->fake, dma, 0x99, PAGE_SIZE);
	test_unmap(test, dma, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_TRUE(test, all_bytes(buf, 0x44, PAGE_SIZE));
}

static void iob_skip_cpu_sync_skips_copy_out(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 0x44);
	dma_addr_t dma;
	void *va;

	dma = test_map(test, buf, PAGE_SIZE, DMA_FROM_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	/* Like swiotlb: the copy on map happens even with SKIP_CPU_SYNC */
	va = fake_translate(&t->fake, dma);
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0x44, PAGE_SIZE));
	device_write(test, &t->fake, dma, 0x99, PAGE_SIZE);
	test_unmap(test, dma, PAGE_SIZE, DMA_FROM_DEVICE,
		   DMA_ATTR_SKIP_CPU_SYNC);
	KUNIT_EXPECT_TRUE(test, all_bytes(buf, 0x44, PAGE_SIZE));
}

static void iob_sync_for_cpu_copies_out(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 0);
	dma_addr_t dma;

	dma = test_map(test, buf, PAGE_SIZE, DMA_FROM_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	device_write(test, &t->fake, dma, 0x66, PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, all_bytes(buf, 0, PAGE_SIZE));
	KUNIT_ASSERT_TRUE(test, iommu_dma_bounce_sync(t->pool, t->dev, dma,
						      PAGE_SIZE,
						      DMA_FROM_DEVICE, true));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf, 0x66, PAGE_SIZE));
	test_unmap(test, dma, PAGE_SIZE, DMA_FROM_DEVICE, 0);
}

static void iob_sync_for_device_copies_in(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 0x10);
	dma_addr_t dma;

	dma = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	memset(buf, 0x20, PAGE_SIZE);
	KUNIT_ASSERT_TRUE(test, iommu_dma_bounce_sync(t->pool, t->dev, dma,
						      PAGE_SIZE, DMA_TO_DEVICE,
						      false));
	KUNIT_EXPECT_TRUE(test, all_bytes(fake_translate(&t->fake, dma), 0x20,
					  PAGE_SIZE));
	test_unmap(test, dma, PAGE_SIZE, DMA_TO_DEVICE, 0);
}

static void iob_sync_partial_range(struct kunit *test)
{
	struct iob_test *t = test->priv;
	size_t len = 2 * PAGE_SIZE, start = PAGE_SIZE + 100, part = 200;
	u8 *buf = test_buf(test, len, 0);
	dma_addr_t dma;

	dma = test_map(test, buf, len, DMA_BIDIRECTIONAL, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	device_write(test, &t->fake, dma, 0x77, len);
	KUNIT_ASSERT_TRUE(test, iommu_dma_bounce_sync(t->pool, t->dev,
						      dma + start, part,
						      DMA_BIDIRECTIONAL, true));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf, 0, start));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf + start, 0x77, part));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf + start + part, 0,
					  len - start - part));
	test_unmap(test, dma, len, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
}

/* Bounced for speed, a mapping its driver keeps and syncs in parts is not */
static void iob_skip_cpu_sync_not_bounced_for_speed(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 0x12);
	dma_addr_t dma;

	dma = iommu_dma_bounce_map(t->pool, t->dev, virt_to_phys(buf),
				   PAGE_SIZE, DMA_FROM_DEVICE,
				   DMA_ATTR_SKIP_CPU_SYNC, 0);
	KUNIT_EXPECT_EQ(test, dma, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, test_stats(test)->fallbacks[IOMMU_DMA_BOUNCE_FB_SKIP_SYNC], 1);
	/* No slot was grown, pinned or mapped for it */
	KUNIT_EXPECT_EQ(test, test_stats(test)->bytes, 0);
	KUNIT_EXPECT_EQ(test, t->fake.maps, 0);
}

/*
 * One that must bounce still does, and its partial syncs, in either
 * direction, copy exactly the range they name and nothing around it.
 */
static void iob_skip_cpu_sync_forced_syncs_only_its_range(struct kunit *test)
{
	struct iob_test *t = test->priv;
	size_t len = 2 * PAGE_SIZE, start = PAGE_SIZE - 100, part = 300;
	u8 *buf = test_buf(test, len, 0x11);
	dma_addr_t dma;
	u8 *va;

	dma = iommu_dma_bounce_map(t->pool, t->dev, virt_to_phys(buf), len,
				   DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC,
				   IOMMU_DMA_BOUNCE_FORCE);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	va = fake_translate(&t->fake, dma);
	KUNIT_ASSERT_NOT_NULL(test, va);

	/* The CPU rewrites the whole buffer, hands one range to the device */
	memset(buf, 0x22, len);
	KUNIT_ASSERT_TRUE(test, iommu_dma_bounce_sync(t->pool, t->dev,
						      dma + start, part,
						      DMA_BIDIRECTIONAL,
						      false));
	va = fake_translate(&t->fake, dma);
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0x11, start));
	va = fake_translate(&t->fake, dma + start);
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0x22, PAGE_SIZE - start));
	va = fake_translate(&t->fake, dma + PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0x22, start + part - PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, all_bytes(va + start + part - PAGE_SIZE, 0x11,
					  len - start - part));

	/* The device writes it all, the CPU takes back one range */
	device_write(test, &t->fake, dma, 0x44, len);
	KUNIT_ASSERT_TRUE(test, iommu_dma_bounce_sync(t->pool, t->dev,
						      dma + start, part,
						      DMA_BIDIRECTIONAL, true));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf, 0x22, start));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf + start, 0x44, part));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf + start + part, 0x22,
					  len - start - part));
	/* With SKIP_CPU_SYNC the unmap copies nothing more */
	test_unmap(test, dma, len, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
	KUNIT_EXPECT_TRUE(test, all_bytes(buf, 0x22, start));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf + start, 0x44, part));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf + start + part, 0x22,
					  len - start - part));
	KUNIT_EXPECT_EQ(test, test_stats(test)->fallbacks[IOMMU_DMA_BOUNCE_FB_SKIP_SYNC], 0);
}

/* Size classes each interrupt context grows, so that each grows its own */
#define IRQ_CTX_CLASSES	2

/* What iob_irq_contexts_grow_and_age() does in hardirq or softirq context */
struct irq_ctx {
	struct iob_test *t;
	unsigned int first_class;
	void *buf[IRQ_CTX_CLASSES];
	dma_addr_t dma[IRQ_CTX_CLASSES];
	unsigned int unmapped;
	bool hardirq, softirq;
	struct irq_work iw;
	struct work_struct bh;
};

/* Map one buffer of each of ctx's classes, then unmap them all. */
static void irq_ctx_map_unmap(struct irq_ctx *ctx)
{
	struct iob_test *t = ctx->t;
	int i;

	ctx->hardirq = in_hardirq();
	ctx->softirq = in_serving_softirq();
	for (i = 0; i < IRQ_CTX_CLASSES; i++)
		ctx->dma[i] = iommu_dma_bounce_map(t->pool, t->dev,
						   virt_to_phys(ctx->buf[i]),
						   PAGE_SIZE << (ctx->first_class + i),
						   DMA_BIDIRECTIONAL, 0, 0);
	for (i = 0; i < IRQ_CTX_CLASSES; i++)
		if (ctx->dma[i] != DMA_MAPPING_ERROR &&
		    iommu_dma_bounce_unmap(t->pool, t->dev, ctx->dma[i],
					   PAGE_SIZE << (ctx->first_class + i),
					   DMA_BIDIRECTIONAL, 0))
			ctx->unmapped++;
}

static void irq_ctx_hardirq(struct irq_work *iw)
{
	irq_ctx_map_unmap(container_of(iw, struct irq_ctx, iw));
}

static void irq_ctx_softirq(struct work_struct *work)
{
	irq_ctx_map_unmap(container_of(work, struct irq_ctx, bh));
}

static void irq_ctx_init(struct kunit *test, struct irq_ctx *ctx,
			 unsigned int first_class)
{
	int i;

	ctx->t = test->priv;
	ctx->first_class = first_class;
	for (i = 0; i < IRQ_CTX_CLASSES; i++)
		ctx->buf[i] = test_buf(test, PAGE_SIZE << (first_class + i), i);
	/*
	 * Not IRQ_WORK_INIT_HARD: lockdep checks a hard irq_work's callback
	 * as raw-spinlock-only, which no driver's interrupt handler is. On
	 * !PREEMPT_RT this one runs in hardirq context all the same.
	 */
	ctx->iw = IRQ_WORK_INIT(irq_ctx_hardirq);
	INIT_WORK(&ctx->bh, irq_ctx_softirq);
}

/* Run @ctx's maps in hardirq context (an irq_work) and wait for them */
static void irq_ctx_run_hardirq(struct kunit *test, struct irq_ctx *ctx)
{
	KUNIT_ASSERT_TRUE(test, irq_work_queue(&ctx->iw));
	irq_work_sync(&ctx->iw);
	KUNIT_EXPECT_TRUE(test, ctx->hardirq);
	KUNIT_EXPECT_EQ(test, ctx->unmapped, IRQ_CTX_CLASSES);
}

/* Run @ctx's maps in softirq context (a BH work item) and wait for them */
static void irq_ctx_run_softirq(struct kunit *test, struct irq_ctx *ctx)
{
	KUNIT_ASSERT_TRUE(test, queue_work(system_bh_wq, &ctx->bh));
	flush_work(&ctx->bh);
	KUNIT_EXPECT_TRUE(test, ctx->softirq);
	KUNIT_EXPECT_EQ(test, ctx->unmapped, IRQ_CTX_CLASSES);
}

/*
 * A NIC driver maps from NAPI (softirq) and sometimes from hardirq, and the
 * pool must grow there, while aging and the shrinker free slots from
 * process context with interrupts on. Any lock both take without turning
 * interrupts off deadlocks when the interrupt comes in on the CPU that
 * holds it; lockdep reports the first such lock at once and turns itself
 * off, which this case checks (debug_locks): it fails on such a lock only
 * with CONFIG_PROVE_LOCKING.
 */
static void iob_irq_contexts_grow_and_age(struct kunit *test)
{
	struct iob_test *t = test->priv;
	struct irq_ctx *hard, *soft, *again;
	u8 *buf = test_buf(test, PAGE_SIZE, 0x5a);
	dma_addr_t dma;

	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		kunit_skip(test, "irq_work runs in a thread on PREEMPT_RT");
	/* The verdict on the locks is lockdep's: it must be watching */
	if (IS_ENABLED(CONFIG_PROVE_LOCKING) && !debug_locks)
		kunit_skip(test, "lockdep is off after an earlier report");

	hard = kunit_kzalloc(test, sizeof(*hard), GFP_KERNEL);
	soft = kunit_kzalloc(test, sizeof(*soft), GFP_KERNEL);
	again = kunit_kzalloc(test, sizeof(*again), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, hard && soft && again);
	irq_ctx_init(test, hard, 1);
	irq_ctx_init(test, soft, 1 + IRQ_CTX_CLASSES);
	irq_ctx_init(test, again, 1);

	/* Process context, interrupts on: grows class 0 */
	dma = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	test_unmap(test, dma, PAGE_SIZE, DMA_TO_DEVICE, 0);

	irq_ctx_run_hardirq(test, hard);
	irq_ctx_run_softirq(test, soft);
	KUNIT_EXPECT_EQ(test, test_stats(test)->maps_hardirq, IRQ_CTX_CLASSES);
	KUNIT_EXPECT_EQ(test, test_stats(test)->maps_softirq, IRQ_CTX_CLASSES);
	KUNIT_EXPECT_EQ(test, test_stats(test)->maps, 1 + 2 * IRQ_CTX_CLASSES);
	/* Each context grew its own classes */
	KUNIT_EXPECT_EQ(test, t->fake.maps, 1 + 2 * IRQ_CTX_CLASSES);

	/* Aging frees them all from process context */
	KUNIT_EXPECT_EQ(test, iob_age(t->pool,
				      jiffies + TEST_IDLE_LATER),
			1 + 2 * IRQ_CTX_CLASSES);
	KUNIT_EXPECT_EQ(test, test_stats(test)->bytes, 0);

	/* Grown in hardirq once more, then freed by the shrinker */
	irq_ctx_run_hardirq(test, again);
	KUNIT_EXPECT_EQ(test, iob_shrink(t->pool, ULONG_MAX),
			IRQ_CTX_CLASSES);
	KUNIT_EXPECT_EQ(test, test_stats(test)->bytes, 0);
	KUNIT_EXPECT_EQ(test, fake_mapped_pages(&t->fake), 0);
	/* A lock taken both ways makes lockdep report and switch itself off */
	if (IS_ENABLED(CONFIG_PROVE_LOCKING))
		KUNIT_EXPECT_TRUE(test, debug_locks);
}

static void iob_steady_state_no_iommu_calls(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t dma;
	int i;

	for (i = 0; i < 1000; i++) {
		dma = test_map(test, buf, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
		KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
		test_unmap(test, dma, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	}
	KUNIT_EXPECT_EQ(test, t->fake.maps, 1);
	KUNIT_EXPECT_EQ(test, t->fake.unmaps, 0);
	KUNIT_EXPECT_EQ(test, t->fake.syncs, 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->maps, 1000);
}

static void iob_grows_per_class(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, 4 * PAGE_SIZE, 1);
	dma_addr_t small[5], big[3];
	struct iommu_dma_bounce_stats *st;
	int i;

	for (i = 0; i < ARRAY_SIZE(small); i++) {
		small[i] = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
		KUNIT_ASSERT_NE(test, small[i], DMA_MAPPING_ERROR);
	}
	for (i = 0; i < ARRAY_SIZE(big); i++) {
		big[i] = test_map(test, buf, 4 * PAGE_SIZE, DMA_TO_DEVICE, 0);
		KUNIT_ASSERT_NE(test, big[i], DMA_MAPPING_ERROR);
	}
	st = test_stats(test);
	KUNIT_EXPECT_EQ(test, st->slots[0], 5);
	KUNIT_EXPECT_EQ(test, st->slots[2], 3);
	KUNIT_EXPECT_EQ(test, st->free[0] + st->free[2], 0);
	KUNIT_EXPECT_EQ(test, st->bytes, 5 * PAGE_SIZE + 3 * 4 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, t->fake.maps, 8);

	for (i = 0; i < ARRAY_SIZE(small); i++)
		test_unmap(test, small[i], PAGE_SIZE, DMA_TO_DEVICE, 0);
	for (i = 0; i < ARRAY_SIZE(big); i++)
		test_unmap(test, big[i], 4 * PAGE_SIZE, DMA_TO_DEVICE, 0);
	st = test_stats(test);
	KUNIT_EXPECT_EQ(test, st->free[0], 5);
	KUNIT_EXPECT_EQ(test, st->free[2], 3);
}

static void iob_cap_falls_back_without_cliff(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t a, b, c;

	iob_set_policy(t->pool, IOMMU_DMA_BOUNCE_ON,
		       TEST_MAX_SLOT, 2 * PAGE_SIZE);
	a = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	b = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	c = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, a, DMA_MAPPING_ERROR);
	KUNIT_ASSERT_NE(test, b, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, c, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, test_stats(test)->fallbacks[IOMMU_DMA_BOUNCE_FB_CAP], 1);
	KUNIT_EXPECT_EQ(test, test_stats(test)->bytes, 2 * PAGE_SIZE);

	/* As soon as one slot is idle again, the pool serves the next one */
	test_unmap(test, a, PAGE_SIZE, DMA_TO_DEVICE, 0);
	c = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, c, a);
	test_unmap(test, b, PAGE_SIZE, DMA_TO_DEVICE, 0);
	test_unmap(test, c, PAGE_SIZE, DMA_TO_DEVICE, 0);
}

static void iob_too_large_falls_back(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, TEST_MAX_SLOT + PAGE_SIZE, 1);

	KUNIT_EXPECT_EQ(test, test_map(test, buf, TEST_MAX_SLOT + 1,
				       DMA_TO_DEVICE, IOMMU_DMA_BOUNCE_FORCE),
			DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, test_stats(test)->fallbacks[IOMMU_DMA_BOUNCE_FB_TOO_LARGE], 1);
	KUNIT_EXPECT_EQ(test, t->fake.iova_allocs, 0);
}

static void iob_policy_threshold(struct kunit *test)
{
	struct iob_test *t = test->priv;

	iob_set_policy(t->pool, IOMMU_DMA_BOUNCE_ON, SZ_8K,
		       TEST_MAX_BYTES);
	KUNIT_EXPECT_TRUE(test, iommu_dma_bounce_wanted(t->pool, SZ_8K, 0));
	KUNIT_EXPECT_FALSE(test, iommu_dma_bounce_wanted(t->pool, SZ_8K + 1, 0));
	iob_set_policy(t->pool, IOMMU_DMA_BOUNCE_OFF, SZ_8K,
		       TEST_MAX_BYTES);
	KUNIT_EXPECT_FALSE(test, iommu_dma_bounce_wanted(t->pool, 1, 0));
	KUNIT_EXPECT_FALSE(test, iommu_dma_bounce_wanted(NULL, 1, 0));
}

static void iob_iova_failure_falls_back(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);

	t->fake.fail_iova = true;
	KUNIT_EXPECT_EQ(test, test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0),
			DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, test_stats(test)->fallbacks[IOMMU_DMA_BOUNCE_FB_IOVA], 1);
	/* One failure, one reason */
	KUNIT_EXPECT_EQ(test, test_stats(test)->fallbacks[IOMMU_DMA_BOUNCE_FB_NOMEM], 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->bytes, 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->slots[0], 0);
}

static void iob_map_failure_falls_back(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);

	t->fake.fail_map = true;
	KUNIT_EXPECT_EQ(test, test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0),
			DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, test_stats(test)->fallbacks[IOMMU_DMA_BOUNCE_FB_MAP], 1);
	KUNIT_EXPECT_EQ(test, test_stats(test)->fallbacks[IOMMU_DMA_BOUNCE_FB_NOMEM], 0);
	KUNIT_EXPECT_EQ(test, t->fake.iova_allocs, 1);
	KUNIT_EXPECT_EQ(test, t->fake.iova_frees, 1);
	KUNIT_EXPECT_EQ(test, test_stats(test)->bytes, 0);
}

static void iob_dma_mask_respected(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, SZ_16K, 1);
	dma_addr_t dma;

	t->mask = TEST_MASK_28;
	dma = test_map(test, buf, SZ_16K, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_LE(test, dma + SZ_16K - 1, TEST_MASK_28);
	test_unmap(test, dma, SZ_16K, DMA_TO_DEVICE, 0);
}

static void iob_dma_mask_narrowed_later(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t wide, narrow;

	wide = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, wide, DMA_MAPPING_ERROR);
	KUNIT_ASSERT_GT(test, wide, TEST_MASK_28);
	test_unmap(test, wide, PAGE_SIZE, DMA_TO_DEVICE, 0);

	/* The idle slot is outside the new mask: a new one is made */
	t->mask = TEST_MASK_28;
	narrow = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, narrow, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_LE(test, narrow + PAGE_SIZE - 1, TEST_MASK_28);
	KUNIT_EXPECT_EQ(test, test_stats(test)->slots[0], 2);
	test_unmap(test, narrow, PAGE_SIZE, DMA_TO_DEVICE, 0);
}

static void iob_aging_frees_idle_in_one_batch(struct kunit *test)
{
	struct iob_test *t = test->priv;
	dma_addr_t dma[3];

	test_idle_slots(test, dma, ARRAY_SIZE(dma));

	KUNIT_EXPECT_EQ(test, iob_age(t->pool, jiffies), 0);
	KUNIT_EXPECT_EQ(test, iob_age(t->pool,
				      jiffies + TEST_IDLE_LATER), 3);
	KUNIT_EXPECT_EQ(test, t->fake.syncs, 1);
	KUNIT_EXPECT_EQ(test, t->fake.iova_frees, 3);
	KUNIT_EXPECT_EQ(test, fake_mapped_pages(&t->fake), 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->bytes, 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->freed_aging, 3);
	/* A freed slot's IOVA no longer belongs to the pool */
	KUNIT_EXPECT_FALSE(test, iommu_dma_bounce_unmap(t->pool, t->dev, dma[0],
							PAGE_SIZE,
							DMA_TO_DEVICE, 0));
}

static void iob_aging_skips_in_use(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 0x31);
	dma_addr_t busy, idle;

	busy = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	idle = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	test_unmap(test, idle, PAGE_SIZE, DMA_TO_DEVICE, 0);

	KUNIT_EXPECT_EQ(test, iob_age(t->pool,
				      jiffies + TEST_IDLE_LATER), 1);
	/* The busy slot is still mapped and holds its data */
	KUNIT_EXPECT_TRUE(test, all_bytes(fake_translate(&t->fake, busy), 0x31,
					  PAGE_SIZE));
	test_unmap(test, busy, PAGE_SIZE, DMA_TO_DEVICE, 0);
}

static void iob_shrink_frees_oldest_up_to_nr(struct kunit *test)
{
	struct iob_test *t = test->priv;
	dma_addr_t dma[4];

	test_idle_slots(test, dma, ARRAY_SIZE(dma));

	KUNIT_EXPECT_EQ(test, iob_shrink(t->pool, 3), 3);
	KUNIT_EXPECT_EQ(test, t->fake.syncs, 1);
	KUNIT_EXPECT_EQ(test, test_stats(test)->slots[0], 1);
	KUNIT_EXPECT_EQ(test, test_stats(test)->freed_shrinker, 3);
	KUNIT_EXPECT_EQ(test, fake_mapped_pages(&t->fake), 1);
}

static void iob_unmap_failure_leaks_the_slot(struct kunit *test)
{
	struct iob_test *t = test->priv;
	struct iommu_dma_bounce_stats *st;
	dma_addr_t dma[2];

	test_idle_slots(test, dma, 2);
	t->fake.fail_unmap = true;
	KUNIT_EXPECT_EQ(test, iob_shrink(t->pool, 2), 0);
	t->fake.fail_unmap = false;

	/*
	 * Still mapped: the device may reach them, so nothing is reused (their
	 * two pages stay allocated for good, as the pool intends).
	 */
	KUNIT_EXPECT_NOT_NULL(test, fake_translate(&t->fake, dma[0]));
	KUNIT_EXPECT_EQ(test, t->fake.iova_frees, 0);
	st = test_stats(test);
	KUNIT_EXPECT_EQ(test, st->leaked, 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, st->bytes, 0);
	KUNIT_EXPECT_EQ(test, st->slots[0], 0);
	/* ... and no longer a slot: the address is not the pool's any more */
	KUNIT_EXPECT_NULL(test, iob_lookup(t->pool, dma[0]));
	/* The next mapping grows a new slot elsewhere */
	test_idle_slots(test, dma + 1, 1);
	KUNIT_EXPECT_NE(test, dma[1], dma[0]);
}

static void iob_shrink_skips_in_use(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t dma[4];
	int i;

	for (i = 0; i < ARRAY_SIZE(dma); i++)
		dma[i] = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	test_unmap(test, dma[0], PAGE_SIZE, DMA_TO_DEVICE, 0);
	test_unmap(test, dma[1], PAGE_SIZE, DMA_TO_DEVICE, 0);

	KUNIT_EXPECT_EQ(test, iob_shrink(t->pool, 100), 2);
	KUNIT_EXPECT_EQ(test, test_stats(test)->slots[0], 2);
	KUNIT_EXPECT_NOT_NULL(test, fake_translate(&t->fake, dma[2]));
	KUNIT_EXPECT_NOT_NULL(test, fake_translate(&t->fake, dma[3]));
	test_unmap(test, dma[2], PAGE_SIZE, DMA_TO_DEVICE, 0);
	test_unmap(test, dma[3], PAGE_SIZE, DMA_TO_DEVICE, 0);
}

/* Three segments: 100 bytes at offset 50, 1000 bytes, 300 bytes */
static const unsigned int sg_offs[] = { 50, 0, 0 };
static const unsigned int sg_lens[] = { 100, 1000, 300 };
#define SG_TOTAL	1400

static struct scatterlist *test_sgl(struct kunit *test, u8 **bufs)
{
	struct scatterlist *sgl;
	int i;

	sgl = kunit_kcalloc(test, ARRAY_SIZE(sg_lens), sizeof(*sgl),
			    GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sgl);
	sg_init_table(sgl, ARRAY_SIZE(sg_lens));
	for (i = 0; i < ARRAY_SIZE(sg_lens); i++) {
		bufs[i] = test_buf(test, PAGE_SIZE, 0x40 + i);
		sg_set_buf(&sgl[i], bufs[i] + sg_offs[i], sg_lens[i]);
	}
	return sgl;
}

/*
 * Only a one-entry list is bounced for speed, marked so that dma-iommu
 * syncs and unmaps it entry by entry: dma-iommu may merge a longer list
 * into fewer segments, which slots cannot give.
 */
static void iob_sg_one_entry_only(struct kunit *test)
{
	struct iob_test *t = test->priv;
	struct scatterlist *sgl;
	u8 *bufs[3], *va;

	sgl = test_sgl(test, bufs);
	iob_set_policy(t->pool, IOMMU_DMA_BOUNCE_ON, SG_TOTAL, TEST_MAX_BYTES);
	KUNIT_EXPECT_EQ(test, iommu_dma_bounce_map_sg(t->pool, t->dev, sgl, 3,
						      DMA_TO_DEVICE, 0), 0);
	KUNIT_EXPECT_EQ(test, iommu_dma_bounce_map_sg(t->pool, t->dev, sgl, 1,
						      DMA_TO_DEVICE,
						      DMA_ATTR_SKIP_CPU_SYNC), 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->maps, 0);

	KUNIT_ASSERT_EQ(test, iommu_dma_bounce_map_sg(t->pool, t->dev, sgl, 1,
						      DMA_TO_DEVICE, 0), 1);
	KUNIT_EXPECT_TRUE(test, sg_dma_is_swiotlb(sgl));
	KUNIT_EXPECT_EQ(test, sg_dma_len(sgl), sg_lens[0]);
	va = fake_translate(&t->fake, sg_dma_address(sgl));
	KUNIT_ASSERT_NOT_NULL(test, va);
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0x40, sg_lens[0]));
	test_unmap(test, sg_dma_address(sgl), sg_lens[0], DMA_TO_DEVICE, 0);
}

struct on_cpu_maps {
	struct kunit *test;
	u8 *buf;
	dma_addr_t dma[TEST_STEAL_SLOTS];
	bool unmap;
	int errors;
};

/* Map, or unmap, TEST_STEAL_SLOTS pages; run on a given CPU by work_on_cpu() */
static long maps_on_cpu(void *arg)
{
	struct on_cpu_maps *m = arg;
	struct iob_test *t = m->test->priv;
	int i;

	for (i = 0; i < TEST_STEAL_SLOTS; i++) {
		if (m->unmap) {
			if (!iommu_dma_bounce_unmap(t->pool, t->dev, m->dma[i],
						    PAGE_SIZE, DMA_TO_DEVICE, 0))
				m->errors++;
			continue;
		}
		m->dma[i] = iommu_dma_bounce_map(t->pool, t->dev,
						 virt_to_phys(m->buf),
						 PAGE_SIZE, DMA_TO_DEVICE, 0, 0);
		if (m->dma[i] == DMA_MAPPING_ERROR)
			m->errors++;
	}
	return 0;
}

static void iob_uses_other_cpus_idle_slots(struct kunit *test)
{
	struct iob_test *t = test->priv;
	struct iommu_dma_bounce_stats *st;
	struct on_cpu_maps *m;
	int a, b, i, j, shared = 0;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two online CPUs");
	a = cpumask_first(cpu_online_mask);
	b = cpumask_next(a, cpu_online_mask);
	m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m);
	m->test = test;
	m->buf = test_buf(test, PAGE_SIZE, 5);

	/* Mapped and unmapped on CPU a: the slots sit idle on a's stack */
	work_on_cpu(a, maps_on_cpu, m);
	m->unmap = true;
	work_on_cpu(a, maps_on_cpu, m);
	KUNIT_ASSERT_EQ(test, m->errors, 0);
	KUNIT_ASSERT_EQ(test, t->fake.maps, TEST_STEAL_SLOTS);

	/* CPU b's stack and the depot are empty: b uses a's, grows none */
	m->unmap = false;
	work_on_cpu(b, maps_on_cpu, m);
	KUNIT_EXPECT_EQ(test, t->fake.maps, TEST_STEAL_SLOTS);
	/* A slot moved from a to b has left a: each mapping owns its own */
	for (i = 1; i < TEST_STEAL_SLOTS; i++) {
		for (j = 0; j < i; j++)
			shared += m->dma[i] == m->dma[j];
	}
	KUNIT_EXPECT_EQ(test, shared, 0);
	m->unmap = true;
	work_on_cpu(b, maps_on_cpu, m);
	KUNIT_EXPECT_EQ(test, m->errors, 0);
	/* One snapshot: every slot is held and idle exactly once */
	st = test_stats(test);
	KUNIT_EXPECT_EQ(test, st->slots[0], TEST_STEAL_SLOTS);
	KUNIT_EXPECT_EQ(test, st->free[0], TEST_STEAL_SLOTS);
}

static void iob_untrusted_sees_only_its_bytes(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *secret = test_buf(test, PAGE_SIZE, 0xcc);
	u8 *buf = test_buf(test, PAGE_SIZE, 0x42);
	size_t off = 10, len = 100;
	dma_addr_t dma;
	u8 *va;

	/*
	 * A device made untrusted at run time, in a domain that is not:
	 * that mapping is cleared all the same, and the trusted mapping's
	 * bytes it would share a slot with are not shown to it.
	 */
	dma = test_map(test, secret, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	test_unmap(test, dma, PAGE_SIZE, DMA_TO_DEVICE, 0);
	dma = test_map(test, buf + off, len, DMA_TO_DEVICE,
		       IOMMU_DMA_BOUNCE_UNTRUSTED);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	va = fake_translate(&t->fake, dma & PAGE_MASK);
	KUNIT_ASSERT_NOT_NULL(test, va);
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0, (dma & ~PAGE_MASK)));
	KUNIT_EXPECT_TRUE(test, all_bytes(va + (dma & ~PAGE_MASK), 0x42, len));
	KUNIT_EXPECT_TRUE(test, all_bytes(va + (dma & ~PAGE_MASK) + len, 0,
					  PAGE_SIZE - (dma & ~PAGE_MASK) - len));
	test_unmap(test, dma, len, DMA_TO_DEVICE, 0);
	/* The idle slot stays mapped, so it must not keep the data either */
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0, PAGE_SIZE));
}

/* In an untrusted domain every mapping is cleared, whoever makes it */
static void iob_untrusted_domain_clears_every_mapping(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 0x42);
	size_t off = 10, len = 100;
	dma_addr_t dma;
	u8 *va;

	test_repool(test, IOMMU_DMA_BOUNCE_POOL_UNTRUSTED);
	dma = test_map(test, buf + off, len, DMA_BIDIRECTIONAL, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	va = fake_translate(&t->fake, dma & PAGE_MASK);
	KUNIT_ASSERT_NOT_NULL(test, va);
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0, dma & ~PAGE_MASK));
	KUNIT_EXPECT_TRUE(test, all_bytes(va + (dma & ~PAGE_MASK) + len, 0,
					  PAGE_SIZE - (dma & ~PAGE_MASK) - len));
	test_unmap(test, dma, len, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_TRUE(test, all_bytes(va, 0, PAGE_SIZE));
}

static void iob_foreign_address_not_ours(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t dma;

	/* No slot at all yet */
	KUNIT_EXPECT_FALSE(test, iommu_dma_bounce_unmap(t->pool, t->dev, SZ_1M,
							PAGE_SIZE,
							DMA_TO_DEVICE, 0));
	dma = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_FALSE(test, iommu_dma_bounce_sync(t->pool, t->dev,
						       dma + 64 * PAGE_SIZE,
						       PAGE_SIZE, DMA_TO_DEVICE,
						       false));
	KUNIT_EXPECT_FALSE(test, iommu_dma_bounce_unmap(NULL, t->dev, dma,
							PAGE_SIZE,
							DMA_TO_DEVICE, 0));
	test_unmap(test, dma, PAGE_SIZE, DMA_TO_DEVICE, 0);
}

static void iob_privileged_not_bounced(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);

	KUNIT_EXPECT_EQ(test, iommu_dma_bounce_map(t->pool, t->dev,
						   virt_to_phys(buf), PAGE_SIZE,
						   DMA_TO_DEVICE,
						   DMA_ATTR_PRIVILEGED, 0),
			DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, test_stats(test)->fallbacks[IOMMU_DMA_BOUNCE_FB_ATTRS], 1);
}

static void iob_teardown_with_slots_in_use(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t dma;
	int i;

	for (i = 0; i < 3; i++) {
		dma = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
		KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	}
	test_unmap(test, dma, PAGE_SIZE, DMA_TO_DEVICE, 0);

	/* Two slots still mapped: all are unmapped and freed anyway */
	iommu_dma_bounce_pool_destroy(t->pool);
	t->pool = NULL;
	KUNIT_EXPECT_EQ(test, fake_mapped_pages(&t->fake), 0);
	KUNIT_EXPECT_EQ(test, t->fake.iova_frees, t->fake.iova_allocs);
	KUNIT_EXPECT_EQ(test, t->fake.syncs, 1);
}

#define STRESS_THREADS	4
#define STRESS_LOOPS	1000

struct stress {
	struct kunit *test;
	struct iob_test *t;
	struct completion done;
	unsigned long errors;
	u32 seed;
};

static int stress_fn(void *data)
{
	struct stress *s = data;
	struct iob_test *t = s->t;
	size_t max = SZ_16K;
	u8 *buf = kmalloc(max, GFP_KERNEL);
	int i;

	for (i = 0; buf && i < STRESS_LOOPS; i++) {
		size_t len = 1 + get_random_u32_below(max), chunk;
		u8 val = get_random_u8();
		dma_addr_t dma;
		u8 *va;

		memset(buf, val, len);
		dma = iommu_dma_bounce_map(t->pool, t->dev, virt_to_phys(buf),
					   len, DMA_BIDIRECTIONAL, 0, 0);
		if (dma == DMA_MAPPING_ERROR) {
			s->errors++;
			continue;
		}
		va = fake_translate(&t->fake, dma);
		chunk = min_t(size_t, len, PAGE_SIZE - offset_in_page(dma));
		/* Each thread must see its own bytes, then write its reply */
		if (!va || memchr_inv(va, val, chunk))
			s->errors++;
		else
			memset(va, (u8)~val, chunk);
		if (!iommu_dma_bounce_unmap(t->pool, t->dev, dma, len,
					    DMA_BIDIRECTIONAL, 0))
			s->errors++;
		if (va && memchr_inv(buf, (u8)~val, chunk))
			s->errors++;
		if (!(i % 64))
			cond_resched();
	}
	if (!buf)
		s->errors++;
	kfree(buf);
	complete(&s->done);
	return 0;
}

static void iob_concurrent_kthreads(struct kunit *test)
{
	struct iob_test *t = test->priv;
	struct stress *s;
	struct task_struct *task;
	struct iommu_dma_bounce_stats *st;
	unsigned long c, slots = 0, free = 0;
	int i;

	s = kunit_kcalloc(test, STRESS_THREADS, sizeof(*s), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	for (i = 0; i < STRESS_THREADS; i++) {
		s[i].test = test;
		s[i].t = t;
		init_completion(&s[i].done);
		task = kthread_run(stress_fn, &s[i], "iob-stress/%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	}
	for (i = 0; i < STRESS_THREADS; i++) {
		wait_for_completion(&s[i].done);
		KUNIT_EXPECT_EQ(test, s[i].errors, 0);
	}

	st = test_stats(test);
	for (c = 0; c < IOMMU_DMA_BOUNCE_NR_CLASSES; c++) {
		slots += st->slots[c];
		free += st->free[c];
	}
	KUNIT_EXPECT_EQ(test, st->maps, STRESS_THREADS * STRESS_LOOPS);
	KUNIT_EXPECT_EQ(test, free, slots);
	KUNIT_EXPECT_EQ(test, t->fake.maps, slots);
	/* Few mappings are ever in flight: the pool stays small */
	KUNIT_EXPECT_LE(test, slots, STRESS_THREADS * IOMMU_DMA_BOUNCE_NR_CLASSES * 2);
}

/* A wide-mask slot on top of the stack does not hide a narrow one below */
static void iob_dma_mask_finds_slot_below_top(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t wide, narrow;

	wide = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_GT(test, wide, TEST_MASK_28);
	t->mask = TEST_MASK_28;
	narrow = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_LE(test, narrow + PAGE_SIZE - 1, TEST_MASK_28);
	/* Idle in this order, the wide slot is on top of the stack */
	test_unmap(test, narrow, PAGE_SIZE, DMA_TO_DEVICE, 0);
	test_unmap(test, wide, PAGE_SIZE, DMA_TO_DEVICE, 0);

	t->mask = TEST_MASK_28;
	KUNIT_EXPECT_EQ(test, test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0),
			narrow);
	KUNIT_EXPECT_EQ(test, test_stats(test)->slots[0], 2);
	test_unmap(test, narrow, PAGE_SIZE, DMA_TO_DEVICE, 0);
}

/*
 * A mapping that must bounce and cannot grow a slot takes one from the
 * reserve, which only such mappings use; with the reserve empty it fails,
 * and never falls back to mapping the caller's page.
 */
static void iob_forced_mapping_uses_reserve_then_fails(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	struct iommu_dma_bounce_stats *st;
	dma_addr_t dma[IOB_RESERVE + 1];
	int i;

	/* The first mapping that must bounce starts the reserve */
	dma[0] = test_map_forced(test, buf);
	KUNIT_ASSERT_NE(test, dma[0], DMA_MAPPING_ERROR);
	test_unmap(test, dma[0], 100, DMA_TO_DEVICE, 0);
	flush_work(&t->pool->work);
	/* Only for the class that had to bounce */
	st = test_stats(test);
	KUNIT_EXPECT_EQ(test, st->reserve[0], IOB_RESERVE);
	for (i = 1; i < IOMMU_DMA_BOUNCE_NR_CLASSES; i++)
		KUNIT_EXPECT_EQ(test, st->reserve[i], 0);
	/* The shrinker leaves the reserve alone */
	iob_shrink(t->pool, ULONG_MAX);
	KUNIT_EXPECT_EQ(test, test_stats(test)->reserve[0], IOB_RESERVE);

	t->fake.fail_iova = true;
	KUNIT_EXPECT_EQ(test, test_map(test, buf, 100, DMA_TO_DEVICE, 0),
			DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, test_stats(test)->reserve[0], IOB_RESERVE);
	for (i = 0; i < IOB_RESERVE; i++) {
		dma[i] = test_map_forced(test, buf);
		KUNIT_EXPECT_NE(test, dma[i], DMA_MAPPING_ERROR);
	}
	KUNIT_EXPECT_EQ(test, test_map_forced(test, buf),
			DMA_MAPPING_ERROR);
	st = test_stats(test);
	KUNIT_EXPECT_EQ(test, st->failed, 1);
	KUNIT_EXPECT_EQ(test, st->reserve[0], 0);
	for (i = 0; i < IOB_RESERVE; i++)
		if (dma[i] != DMA_MAPPING_ERROR)
			test_unmap(test, dma[i], 100, DMA_TO_DEVICE, 0);
	/* The worker refills the reserve once it can grow again */
	t->fake.fail_iova = false;
	dma[0] = test_map_forced(test, buf);
	KUNIT_ASSERT_NE(test, dma[0], DMA_MAPPING_ERROR);
	flush_work(&t->pool->work);
	KUNIT_EXPECT_EQ(test, test_stats(test)->reserve[0], IOB_RESERVE);
	test_unmap(test, dma[0], 100, DMA_TO_DEVICE, 0);
}

/*
 * A non-coherent domain: what the CPU writes to a slot reaches memory before
 * the device may read it: the new slot's zeroes, an untrusted mapping's
 * padding and data, and the clearing after it.
 */
static void iob_noncoherent_slots_maintained(struct kunit *test)
{
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t dma;

	test_repool(test, IOMMU_DMA_BOUNCE_POOL_NONCOHERENT |
		    IOMMU_DMA_BOUNCE_POOL_UNTRUSTED);
	/* Bounced for speed: no reserve to grow behind the test's back */
	dma = test_map(test, buf + 10, 100, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	/* The new slot, the padding on either side, the data */
	KUNIT_EXPECT_EQ(test, test_stats(test)->cache_maint, 4);
	test_unmap(test, dma, 100, DMA_TO_DEVICE, 0);
	/* The cleared data */
	KUNIT_EXPECT_EQ(test, test_stats(test)->cache_maint, 5);
}

/*
 * Coherency is read at mapping time: on OF and ACPI systems a domain is set
 * up before its device's coherency is known. A slot made for a coherent
 * mapping is not handed to a non-coherent one, which gets a slot mapped
 * without IOMMU_CACHE, with cache maintenance.
 */
static void iob_coherency_taken_per_mapping(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t a, b;

	a = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, a, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, t->fake.last_prot & IOMMU_CACHE, IOMMU_CACHE);
	test_unmap(test, a, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->cache_maint, 0);

	/* Now the device maps as a non-coherent one */
	t->pool->flags |= IOMMU_DMA_BOUNCE_POOL_NONCOHERENT;
	b = test_map(test, buf, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_NE(test, b, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_NE(test, b, a);
	KUNIT_EXPECT_EQ(test, t->fake.last_prot & IOMMU_CACHE, 0);
	KUNIT_EXPECT_GT(test, test_stats(test)->cache_maint, 0);
	test_unmap(test, b, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->slots[0], 2);
}

/*
 * The reserve is made for the coherency of the last mapping that had to
 * bounce: when a device of the other coherency must bounce, the worker
 * frees the reserve slots it cannot use and makes new ones.
 */
/*
 * With growth failing, make IOB_RESERVE mappings that must bounce into
 * @dma[1..IOB_RESERVE]: each must come from the reserve, ending at or
 * below @limit.
 */
static void test_take_reserve(struct kunit *test, u8 *buf, dma_addr_t *dma,
			      u64 limit)
{
	struct iob_test *t = test->priv;
	int i;

	t->fake.fail_iova = true;
	for (i = 1; i <= IOB_RESERVE; i++) {
		dma[i] = test_map_forced(test, buf);
		KUNIT_EXPECT_NE(test, dma[i], DMA_MAPPING_ERROR);
		if (dma[i] != DMA_MAPPING_ERROR)
			KUNIT_EXPECT_LE(test, dma[i] + 99, limit);
	}
}

/* Unmap those of @dma[0..IOB_RESERVE] that were mapped */
static void test_unmap_forced(struct kunit *test, dma_addr_t *dma)
{
	int i;

	for (i = 0; i <= IOB_RESERVE; i++)
		if (dma[i] != DMA_MAPPING_ERROR)
			test_unmap(test, dma[i], 100, DMA_TO_DEVICE, 0);
}

static void iob_reserve_follows_coherency(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t dma[IOB_RESERVE + 1];

	dma[0] = test_map_forced(test, buf);
	KUNIT_ASSERT_NE(test, dma[0], DMA_MAPPING_ERROR);
	test_unmap(test, dma[0], 100, DMA_TO_DEVICE, 0);
	flush_work(&t->pool->work);
	KUNIT_EXPECT_EQ(test, test_stats(test)->reserve[0], IOB_RESERVE);

	/* A non-coherent mapping that must bounce, and nothing can grow */
	t->pool->flags |= IOMMU_DMA_BOUNCE_POOL_NONCOHERENT;
	t->fake.fail_iova = true;
	KUNIT_EXPECT_EQ(test, test_map_forced(test, buf),
			DMA_MAPPING_ERROR);
	flush_work(&t->pool->work);
	KUNIT_EXPECT_EQ(test, test_stats(test)->reserve[0], 0);
	KUNIT_EXPECT_EQ(test, test_stats(test)->slots[0], 1);

	/* Growth works again: the worker makes a non-coherent reserve */
	t->fake.fail_iova = false;
	dma[0] = test_map_forced(test, buf);
	KUNIT_ASSERT_NE(test, dma[0], DMA_MAPPING_ERROR);
	flush_work(&t->pool->work);
	KUNIT_EXPECT_EQ(test, test_stats(test)->reserve[0], IOB_RESERVE);
	test_take_reserve(test, buf, dma, U64_MAX);
	test_unmap_forced(test, dma);
}

/*
 * A device limited below 4 GiB (a 28-bit mask here, as arm64's dma-ranges
 * often set) must find reserve slots it can reach: the reserve follows the
 * narrowest limit of the mappings that had to bounce.
 */
static void iob_reserve_follows_narrowest_limit(struct kunit *test)
{
	struct iob_test *t = test->priv;
	u8 *buf = test_buf(test, PAGE_SIZE, 1);
	dma_addr_t dma[IOB_RESERVE + 1];
	struct iob_slot *slot;

	/* The reserve of a 64-bit device: below 4 GiB, above 28 bits */
	dma[0] = test_map_forced(test, buf);
	KUNIT_ASSERT_NE(test, dma[0], DMA_MAPPING_ERROR);
	test_unmap(test, dma[0], 100, DMA_TO_DEVICE, 0);
	flush_work(&t->pool->work);
	KUNIT_EXPECT_EQ(test, test_stats(test)->reserve[0], IOB_RESERVE);
	list_for_each_entry(slot, &t->pool->depot[0].reserve, node)
		KUNIT_EXPECT_GT(test, slot->iova, TEST_MASK_28);

	/* A 28-bit device must bounce; it can grow, and the worker follows */
	t->mask = TEST_MASK_28;
	dma[0] = test_map_forced(test, buf);
	KUNIT_ASSERT_NE(test, dma[0], DMA_MAPPING_ERROR);
	flush_work(&t->pool->work);
	KUNIT_EXPECT_EQ(test, test_stats(test)->reserve[0], IOB_RESERVE);

	/* Nothing can grow: the reserve serves it, inside its mask */
	test_take_reserve(test, buf, dma, TEST_MASK_28);
	KUNIT_EXPECT_EQ(test, test_stats(test)->failed, 0);
	test_unmap_forced(test, dma);

	/* The reserve, refilled below 28 bits, still serves a 64-bit device */
	t->mask = DMA_BIT_MASK(64);
	t->fake.fail_iova = false;
	dma[0] = test_map_forced(test, buf);
	KUNIT_ASSERT_NE(test, dma[0], DMA_MAPPING_ERROR);
	test_unmap(test, dma[0], 100, DMA_TO_DEVICE, 0);
	flush_work(&t->pool->work);
	iob_shrink(t->pool, ULONG_MAX);
	t->fake.fail_iova = true;
	dma[0] = test_map_forced(test, buf);
	KUNIT_ASSERT_NE(test, dma[0], DMA_MAPPING_ERROR);
	KUNIT_EXPECT_LE(test, dma[0] + 99, TEST_MASK_28);
	test_unmap(test, dma[0], 100, DMA_TO_DEVICE, 0);
}

static unsigned long test_wanted(struct kunit *test, size_t size,
				 unsigned long attrs)
{
	struct iob_test *t = test->priv;

	return iommu_dma_bounce_wanted(t->pool, size, attrs);
}

/*
 * "auto", the default, bounces up to the threshold only when the IOMMU says
 * its invalidations are costly (a virtual IOMMU); "on" and "off" do not ask.
 */
static void iob_auto_follows_the_iommu(struct kunit *test)
{
	struct iob_test *t = test->priv;

	iob_set_policy(t->pool, IOMMU_DMA_BOUNCE_AUTO, PAGE_SIZE,
		       TEST_MAX_BYTES);
	KUNIT_EXPECT_FALSE(test, test_wanted(test, PAGE_SIZE, 0));

	test_repool(test, IOMMU_DMA_BOUNCE_POOL_COSTLY);
	iob_set_policy(t->pool, IOMMU_DMA_BOUNCE_AUTO, PAGE_SIZE,
		       TEST_MAX_BYTES);
	KUNIT_EXPECT_TRUE(test, test_wanted(test, PAGE_SIZE, 0));
	KUNIT_EXPECT_FALSE(test, test_wanted(test, PAGE_SIZE + 1, 0));
	/* The documented opt-out of the speed path */
	KUNIT_EXPECT_FALSE(test, test_wanted(test, PAGE_SIZE,
					     DMA_ATTR_SKIP_CPU_SYNC));
	iob_set_policy(t->pool, IOMMU_DMA_BOUNCE_OFF, PAGE_SIZE,
		       TEST_MAX_BYTES);
	KUNIT_EXPECT_FALSE(test, test_wanted(test, PAGE_SIZE, 0));
}

static struct kunit_case iob_test_cases[] = {
	KUNIT_CASE(iob_class_sizes),
	KUNIT_CASE(iob_class_counts_offset),
	KUNIT_CASE(iob_no_iova_at_create),
	KUNIT_CASE(iob_map_copies_to_slot),
	KUNIT_CASE(iob_from_device_keeps_unwritten_tail),
	KUNIT_CASE(iob_no_stale_data_from_earlier_mapping),
	KUNIT_CASE(iob_to_device_unmap_leaves_buffer),
	KUNIT_CASE(iob_skip_cpu_sync_skips_copy_out),
	KUNIT_CASE(iob_sync_for_cpu_copies_out),
	KUNIT_CASE(iob_sync_for_device_copies_in),
	KUNIT_CASE(iob_sync_partial_range),
	KUNIT_CASE(iob_skip_cpu_sync_not_bounced_for_speed),
	KUNIT_CASE(iob_skip_cpu_sync_forced_syncs_only_its_range),
	KUNIT_CASE(iob_irq_contexts_grow_and_age),
	KUNIT_CASE(iob_steady_state_no_iommu_calls),
	KUNIT_CASE(iob_grows_per_class),
	KUNIT_CASE(iob_uses_other_cpus_idle_slots),
	KUNIT_CASE(iob_cap_falls_back_without_cliff),
	KUNIT_CASE(iob_too_large_falls_back),
	KUNIT_CASE(iob_policy_threshold),
	KUNIT_CASE(iob_iova_failure_falls_back),
	KUNIT_CASE(iob_map_failure_falls_back),
	KUNIT_CASE(iob_dma_mask_respected),
	KUNIT_CASE(iob_dma_mask_narrowed_later),
	KUNIT_CASE(iob_dma_mask_finds_slot_below_top),
	KUNIT_CASE(iob_forced_mapping_uses_reserve_then_fails),
	KUNIT_CASE(iob_noncoherent_slots_maintained),
	KUNIT_CASE(iob_coherency_taken_per_mapping),
	KUNIT_CASE(iob_reserve_follows_coherency),
	KUNIT_CASE(iob_reserve_follows_narrowest_limit),
	KUNIT_CASE(iob_auto_follows_the_iommu),
	KUNIT_CASE(iob_aging_frees_idle_in_one_batch),
	KUNIT_CASE(iob_aging_skips_in_use),
	KUNIT_CASE(iob_shrink_frees_oldest_up_to_nr),
	KUNIT_CASE(iob_shrink_skips_in_use),
	KUNIT_CASE(iob_unmap_failure_leaks_the_slot),
	KUNIT_CASE(iob_sg_one_entry_only),
	KUNIT_CASE(iob_untrusted_sees_only_its_bytes),
	KUNIT_CASE(iob_untrusted_domain_clears_every_mapping),
	KUNIT_CASE(iob_foreign_address_not_ours),
	KUNIT_CASE(iob_privileged_not_bounced),
	KUNIT_CASE(iob_teardown_with_slots_in_use),
	KUNIT_CASE_SLOW(iob_concurrent_kthreads),
	{}
};

static struct kunit_suite iob_test_suite = {
	.name = "iommu-dma-bounce",
	.init = iob_test_init,
	.exit = iob_test_exit,
	.test_cases = iob_test_cases,
};

kunit_test_suite(iob_test_suite);
