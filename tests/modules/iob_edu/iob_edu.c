// SPDX-License-Identifier: GPL-2.0
/*
 * iob_edu - test-only driver for QEMU's "edu" device (PCI 1234:11e8)
 *
 * The guest tests of the bounce pool need a device whose DMA a shell
 * script can steer byte by byte: which IOVA it reads or writes, how many
 * bytes, and what it saw. edu has a 4 KiB buffer and a DMA engine that
 * copies between that buffer and a bus address, which is all we need.
 *
 * Everything goes through debugfs, /sys/kernel/debug/iob_edu/:
 *   ctl     write one command per write(); see iob_edu_cmd() for the list
 *   result  what the last command printed ("key=value" words or a
 *           byte summary "0..99=0xaa 100..4095=0x11")
 *
 * This is a test tool: it lets user space make a device DMA to any IOVA
 * and it flips pci_dev->untrusted at run time. Never load it anywhere
 * but a throw-away guest.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/iopoll.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8

/* DMA registers of edu's BAR0 (QEMU hw/misc/edu.c) */
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_RUN	BIT(0)
#define EDU_CMD_TO_RAM	BIT(1)	/* 0: RAM -> edu buffer, 1: edu buffer -> RAM */

/*
 * edu's internal buffer, as the DMA engine addresses it. QEMU 7.2 aborts
 * (hw_error) on a copy that touches its last byte, so we only ever use
 * the first EDU_CHUNK bytes and split longer transfers.
 */
#define EDU_BUF_ADDR	0x40000
#define EDU_CHUNK	2048
#define IOB_XFER_MAX	4096	/* a whole granule, in two chunks */

/* edu drops address bits above 27 (QEMU's default dma_mask property) */
#define EDU_DMA_BITS	28

/* The caller's buffer lives in a region this big, at offset ->off */
#define IOB_REGION	(8 * PAGE_SIZE)
#define IOB_RESULT_MAX	4096
/* Long-lived mappings the "ll_" commands keep, at most */
#define IOB_LL_MAX	64
/* Entries of the scatterlist the "sg_" commands map, at most */
#define IOB_SG_MAX	8
/* Byte each of them is filled with: IOB_SG_PAT + its index */
#define IOB_SG_PAT	0x40
/* How page_pool (PP_FLAG_DMA_MAP) maps its pages */
#define IOB_LL_ATTRS	(DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_WEAK_ORDERING)

struct iob_edu {
	struct pci_dev *pdev;
	void __iomem *mmio;
	struct mutex lock;		/* serialises commands and the state below */

	void *region;			/* kmalloc'ed, IOB_REGION bytes */
	size_t off, len;		/* the mapped buffer: region + off, len */
	dma_addr_t dma;
	enum dma_data_direction dir;
	bool mapped;

	struct page *ll_page[IOB_LL_MAX];	/* long-lived mappings, see iob_ll_cmd() */
	dma_addr_t ll_dma[IOB_LL_MAX];
	unsigned int ll_nr;
	size_t ll_len;

	struct page *sg_pages[IOB_SG_MAX];	/* see iob_sg_cmd() */
	struct scatterlist sg[IOB_SG_MAX];
	unsigned int sg_nr;		/* entries mapped, 0: none */

	void *scratch;			/* coherent page to fill and read edu's buffer */
	dma_addr_t scratch_dma;

	char result[IOB_RESULT_MAX];
	size_t result_len;
};

static struct iob_edu *iob;
static struct dentry *iob_dir;

static __printf(1, 2) void iob_out(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	iob->result_len += vscnprintf(iob->result + iob->result_len,
				      IOB_RESULT_MAX - iob->result_len, fmt, args);
	va_end(args);
}

/* Append "a..b=0xNN" runs: short enough for a shell to compare exactly. */
static void iob_summary(const u8 *p, size_t len)
{
	size_t i, start = 0;

	for (i = 1; i <= len; i++) {
		if (i < len && p[i] == p[start])
			continue;
		iob_out("%s%zu..%zu=0x%02x", start ? " " : "", start, i - 1,
			p[start]);
		start = i;
	}
	iob_out("\n");
}

/* Run one edu DMA and wait for it; edu finishes it from a 100 ms timer. */
static int iob_edu_dma(dma_addr_t ram, size_t len, bool to_ram)
{
	u64 cmd;
	int ret;

	if (!len || len > EDU_CHUNK)
		return -EINVAL;	/* edu would abort QEMU on an out-of-range copy */
	writeq(to_ram ? EDU_BUF_ADDR : ram, iob->mmio + EDU_DMA_SRC);
	writeq(to_ram ? ram : EDU_BUF_ADDR, iob->mmio + EDU_DMA_DST);
	writeq(len, iob->mmio + EDU_DMA_CNT);
	writeq(EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0),
	       iob->mmio + EDU_DMA_CMD);
	ret = readq_poll_timeout(iob->mmio + EDU_DMA_CMD, cmd,
				 !(cmd & EDU_CMD_RUN), 1000, 10 * USEC_PER_SEC);
	if (ret)
		pci_err(iob->pdev, "edu DMA did not finish\n");
	return ret;
}

/* The device writes its buffer's first bytes to RAM at @ram, chunk by chunk. */
static int iob_dev_write(dma_addr_t ram, size_t len)
{
	size_t done, n;
	int ret;

	for (done = 0; done < len; done += n) {
		n = min_t(size_t, len - done, EDU_CHUNK);
		ret = iob_edu_dma(ram + done, n, true);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The device reads RAM at @ram into its buffer, chunk by chunk, and each
 * chunk is then written out to the scratch page: the scratch page ends
 * up holding exactly what the device saw.
 */
static int iob_dev_read(dma_addr_t ram, size_t len)
{
	size_t done, n;
	int ret;

	/* Poison first: a dropped device write must not look like data */
	memset(iob->scratch, 0xee, IOB_XFER_MAX);
	for (done = 0; done < len; done += n) {
		n = min_t(size_t, len - done, EDU_CHUNK);
		ret = iob_edu_dma(ram + done, n, false);
		if (!ret)
			ret = iob_edu_dma(iob->scratch_dma + done, n, true);
		if (ret)
			return ret;
	}
	iob_summary(iob->scratch, len);
	return 0;
}

static void iob_free_buffer(void)
{
	if (iob->mapped)
		dma_unmap_single(&iob->pdev->dev, iob->dma, iob->len, iob->dir);
	iob->mapped = false;
	kfree(iob->region);
	iob->region = NULL;
}

static int iob_parse_dir(const char *s, enum dma_data_direction *dir)
{
	if (!strcmp(s, "to"))
		*dir = DMA_TO_DEVICE;
	else if (!strcmp(s, "from"))
		*dir = DMA_FROM_DEVICE;
	else if (!strcmp(s, "bidi"))
		*dir = DMA_BIDIRECTIONAL;
	else
		return -EINVAL;
	return 0;
}

/* Report where @dma points: what the IOMMU says and where the buffer is. */
static void iob_report_mapping(void)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(&iob->pdev->dev);
	phys_addr_t xlate = dom ? iommu_iova_to_phys(dom, iob->dma) : 0;

	iob_out("dma=0x%llx xlate=0x%llx buf=0x%llx len=%zu\n",
		(u64)iob->dma, (u64)xlate,
		(u64)virt_to_phys(iob->region + iob->off), iob->len);
}

static void iob_ll_free(void)
{
	struct device *dev = &iob->pdev->dev;
	unsigned int i;

	for (i = 0; i < iob->ll_nr; i++) {
		dma_unmap_page_attrs(dev, iob->ll_dma[i], iob->ll_len,
				     DMA_FROM_DEVICE, IOB_LL_ATTRS);
		__free_page(iob->ll_page[i]);
	}
	iob->ll_nr = 0;
}

/*
 * Long-lived mappings, made the way page_pool makes them: pages kept
 * mapped with DMA_ATTR_SKIP_CPU_SYNC, synced in parts while they live.
 *   ll_map N LEN           map the first LEN bytes of N new zeroed pages
 *                          (DMA_FROM_DEVICE); reports the first address
 *   ll_dev_write I OFF LEN device writes its buffer's pattern to page I
 *                          at OFF (LEN <= 4096 - OFF)
 *   ll_sync I OFF LEN      dma_sync_single_range_for_cpu() of that range
 *   ll_dump I              summary of page I as the CPU sees it
 *   ll_unmap               unmap (SKIP_CPU_SYNC) and free them all
 * Return: -ENOIOCTLCMD if @argv is not one of these.
 */
static int iob_ll_cmd(int argc, char **argv, u64 a1, u64 a2, u64 a3)
{
	struct device *dev = &iob->pdev->dev;
	bool one = a1 < iob->ll_nr;

	if (!strcmp(argv[0], "ll_map") && argc == 3) {
		if (iob->ll_nr || !a1 || a1 > IOB_LL_MAX || !a2 || a2 > PAGE_SIZE)
			return -EINVAL;
		iob->ll_len = a2;
		while (iob->ll_nr < a1) {
			struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);
			dma_addr_t dma;

			if (!page)
				return -ENOMEM;
			dma = dma_map_page_attrs(dev, page, 0, a2, DMA_FROM_DEVICE,
						 IOB_LL_ATTRS);
			if (dma_mapping_error(dev, dma)) {
				__free_page(page);
				return -EIO;
			}
			iob->ll_page[iob->ll_nr] = page;
			iob->ll_dma[iob->ll_nr++] = dma;
		}
		iob_out("ll=%u dma0=0x%llx\n", iob->ll_nr, (u64)iob->ll_dma[0]);
		return 0;
	}
	if (!strcmp(argv[0], "ll_dev_write") && argc == 4) {
		if (!one || !a3 || a2 + a3 > iob->ll_len)
			return -EINVAL;
		return iob_dev_write(iob->ll_dma[a1] + a2, a3);
	}
	if (!strcmp(argv[0], "ll_sync") && argc == 4) {
		if (!one || !a3 || a2 + a3 > iob->ll_len)
			return -EINVAL;
		dma_sync_single_range_for_cpu(dev, iob->ll_dma[a1], a2, a3,
					      DMA_FROM_DEVICE);
		return 0;
	}
	if (!strcmp(argv[0], "ll_dump") && argc == 2) {
		if (!one)
			return -EINVAL;
		iob_summary(page_address(iob->ll_page[a1]), PAGE_SIZE);
		return 0;
	}
	if (!strcmp(argv[0], "ll_unmap") && argc == 1) {
		iob_ll_free();
		return 0;
	}
	return -ENOIOCTLCMD;
}

static void iob_sg_free(void)
{
	unsigned int i;

	if (iob->sg_nr)
		dma_unmap_sg(&iob->pdev->dev, iob->sg, iob->sg_nr,
			     DMA_BIDIRECTIONAL);
	for (i = 0; i < iob->sg_nr; i++)
		__free_page(iob->sg_pages[i]);
	iob->sg_nr = 0;
}

/*
 * A scatterlist mapped with dma_map_sg(), the way block and network
 * drivers map multi-segment requests.
 *   sg_map N LEN   N entries of LEN bytes, each at the start of a page of
 *                  its own (entry i filled with IOB_SG_PAT + i, the rest
 *                  of its page 0x00), mapped DMA_BIDIRECTIONAL; reports
 *                  "nents=<returned>" and "dma=.. len=.." per DMA segment
 *   sg_unmap       dma_unmap_sg() them; summary of each page, one a line
 * The device reads and writes the segments with dev_read/dev_write LEN DMA.
 * Return: -ENOIOCTLCMD if @argv is not one of these.
 */
static int iob_sg_cmd(int argc, char **argv, u64 a1, u64 a2)
{
	struct device *dev = &iob->pdev->dev;
	struct scatterlist *s;
	unsigned int i;
	int nents;

	if (!strcmp(argv[0], "sg_map") && argc == 3) {
		if (iob->sg_nr || !a1 || a1 > IOB_SG_MAX || !a2 || a2 > PAGE_SIZE)
			return -EINVAL;
		sg_init_table(iob->sg, a1);
		for (i = 0; i < a1; i++) {
			struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

			if (!page) {
				while (i--)
					__free_page(iob->sg_pages[i]);
				return -ENOMEM;
			}
			memset(page_address(page), IOB_SG_PAT + i, a2);
			iob->sg_pages[i] = page;
			sg_set_page(&iob->sg[i], page, a2, 0);
		}
		nents = dma_map_sg(dev, iob->sg, a1, DMA_BIDIRECTIONAL);
		if (!nents) {
			for (i = 0; i < a1; i++)
				__free_page(iob->sg_pages[i]);
			return -EIO;
		}
		iob->sg_nr = a1;
		iob_out("nents=%d\n", nents);
		for_each_sg(iob->sg, s, nents, i)
			iob_out("dma=0x%llx len=%u\n", (u64)sg_dma_address(s),
				sg_dma_len(s));
		return 0;
	}
	if (!strcmp(argv[0], "sg_unmap") && argc == 1) {
		unsigned int nr = iob->sg_nr;

		if (!nr)
			return -EINVAL;
		dma_unmap_sg(dev, iob->sg, nr, DMA_BIDIRECTIONAL);
		iob->sg_nr = 0;
		for (i = 0; i < nr; i++) {
			iob_summary(page_address(iob->sg_pages[i]), PAGE_SIZE);
			__free_page(iob->sg_pages[i]);
		}
		return 0;
	}
	return strncmp(argv[0], "sg_", 3) ? -ENOIOCTLCMD : -EINVAL;
}

/*
 * Commands (numbers in C syntax, 0x.. allowed):
 *   alloc LEN OFF PAT [NEIGH]  new buffer: region filled with NEIGH (0x11),
 *                              LEN bytes at OFF filled with PAT
 *   fill PAT                   CPU writes PAT over the buffer (no sync)
 *   map to|from|bidi           dma_map_single() the buffer, report it
 *   unmap                      dma_unmap_single() it
 *   xlate                      report the mapping again (IOVA -> phys)
 *   xlate_dump LEN             bytes at phys_to_virt(iova_to_phys(dma))
 *   dev_read LEN [DMA]         device reads LEN (<= 4096) bytes of RAM at
 *                              DMA (default: the mapping); summary of
 *                              what it saw
 *   dev_write LEN [DMA]        device writes LEN (<= 4096) bytes of its
 *                              buffer's pattern to RAM at DMA
 *   edu_fill PAT               edu's buffer := PAT (through the scratch page)
 *   buf_dump                   summary of the region, page(s) around the buffer
 *   untrusted 0|1              set pci_dev->untrusted
 *   mask BITS                  dma_set_mask_and_coherent()
 *   ll_*                       long-lived mappings, see iob_ll_cmd()
 *   sg_*                       scatterlists, see iob_sg_cmd()
 */
static int iob_edu_cmd(char *line)
{
	struct device *dev = &iob->pdev->dev;
	char *argv[5];
	u64 a1 = 0, a2 = 0, a3 = 0, a4 = 0x11;
	int argc = 0, ret;
	char *tok;

	while ((tok = strsep(&line, " \t\n")) && argc < ARRAY_SIZE(argv))
		if (*tok)
			argv[argc++] = tok;
	if (!argc)
		return -EINVAL;
	/* argv[1] may be a word ("map to"); every later argument is a number */
	if ((argc > 1 && isdigit(*argv[1]) && kstrtou64(argv[1], 0, &a1)) ||
	    (argc > 2 && kstrtou64(argv[2], 0, &a2)) ||
	    (argc > 3 && kstrtou64(argv[3], 0, &a3)) ||
	    (argc > 4 && kstrtou64(argv[4], 0, &a4)))
		return -EINVAL;

	ret = iob_ll_cmd(argc, argv, a1, a2, a3);
	if (ret != -ENOIOCTLCMD)
		return ret;
	ret = iob_sg_cmd(argc, argv, a1, a2);
	if (ret != -ENOIOCTLCMD)
		return ret;
	if (!strcmp(argv[0], "alloc") && argc >= 4) {
		if (!a1 || a1 + a2 > IOB_REGION || a3 > 0xff || a4 > 0xff)
			return -EINVAL;
		iob_free_buffer();
		/* Power-of-two kmalloc sizes are naturally aligned: offsets are exact */
		iob->region = kmalloc(IOB_REGION, GFP_KERNEL);
		if (!iob->region)
			return -ENOMEM;
		memset(iob->region, a4, IOB_REGION);
		memset(iob->region + a2, a3, a1);
		iob->len = a1;
		iob->off = a2;
		iob_out("buf=0x%llx\n", (u64)virt_to_phys(iob->region + a2));
		return 0;
	}
	if (!iob->region && strcmp(argv[0], "edu_fill") &&
	    strcmp(argv[0], "untrusted") &&
	    strcmp(argv[0], "mask") && strcmp(argv[0], "dev_read") &&
	    strcmp(argv[0], "dev_write"))
		return -ENOENT;

	if (!strcmp(argv[0], "fill") && argc == 2) {
		memset(iob->region + iob->off, a1, iob->len);
		return 0;
	}
	if (!strcmp(argv[0], "map") && argc == 2) {
		if (iob->mapped || iob_parse_dir(argv[1], &iob->dir))
			return -EINVAL;
		iob->dma = dma_map_single(dev, iob->region + iob->off, iob->len,
					  iob->dir);
		if (dma_mapping_error(dev, iob->dma))
			return -EIO;
		iob->mapped = true;
		iob_report_mapping();
		return 0;
	}
	if (!strcmp(argv[0], "unmap")) {
		if (!iob->mapped)
			return -EINVAL;
		dma_unmap_single(dev, iob->dma, iob->len, iob->dir);
		iob->mapped = false;
		return 0;
	}
	if (!strcmp(argv[0], "xlate")) {
		iob_report_mapping();
		return 0;
	}
	if (!strcmp(argv[0], "xlate_dump") && argc == 2) {
		struct iommu_domain *dom = iommu_get_domain_for_dev(dev);
		phys_addr_t phys = dom ? iommu_iova_to_phys(dom, iob->dma) : 0;

		/* Only within the page the IOVA's own translation covers */
		if (!phys || !a1 || offset_in_page(phys) + a1 > PAGE_SIZE)
			return -EINVAL;
		iob_summary(phys_to_virt(phys), a1);
		return 0;
	}
	if ((!strcmp(argv[0], "dev_read") || !strcmp(argv[0], "dev_write")) &&
	    argc >= 2) {
		dma_addr_t to = argc > 2 ? a2 : iob->dma;

		if ((argc == 2 && !iob->mapped) || !a1 || a1 > IOB_XFER_MAX)
			return -EINVAL;
		if (argv[0][4] == 'w')
			return iob_dev_write(to, a1);
		return iob_dev_read(to, a1);
	}
	if (!strcmp(argv[0], "edu_fill") && argc == 2) {
		memset(iob->scratch, a1, EDU_CHUNK);
		return iob_edu_dma(iob->scratch_dma, EDU_CHUNK, false);
	}
	if (!strcmp(argv[0], "buf_dump")) {
		iob_summary(iob->region, PAGE_ALIGN(iob->off + iob->len));
		return 0;
	}
	if (!strcmp(argv[0], "untrusted") && argc == 2) {
		/* Test-only: the PCI core sets this once, from the topology */
		iob->pdev->untrusted = !!a1;
		return 0;
	}
	if (!strcmp(argv[0], "mask") && argc == 2) {
		if (!a1 || a1 > 64)
			return -EINVAL;
		return dma_set_mask_and_coherent(dev, DMA_BIT_MASK(a1));
	}
	return -EINVAL;
}

static ssize_t iob_ctl_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char buf[128];
	int ret;

	if (!count || count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';

	mutex_lock(&iob->lock);
	iob->result_len = 0;
	iob->result[0] = '\0';
	ret = iob_edu_cmd(buf);
	mutex_unlock(&iob->lock);
	return ret ? ret : count;
}

static const struct file_operations iob_ctl_fops = {
	.owner = THIS_MODULE,
	.write = iob_ctl_write,
};

static ssize_t iob_result_read(struct file *file, char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&iob->lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, iob->result,
				      iob->result_len);
	mutex_unlock(&iob->lock);
	return ret;
}

static const struct file_operations iob_result_fops = {
	.owner = THIS_MODULE,
	.read = iob_result_read,
};

static int iob_edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct iob_edu *edu;
	int ret;

	if (iob)
		return -EBUSY;	/* one device is all the tests use */
	edu = devm_kzalloc(&pdev->dev, sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return ret;
	edu->mmio = pcim_iomap_table(pdev)[0];
	pci_set_master(pdev);

	/* What edu really decodes: anything wider would wrap silently */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(EDU_DMA_BITS));
	if (ret)
		return ret;
	edu->scratch = dmam_alloc_coherent(&pdev->dev, IOB_XFER_MAX,
					   &edu->scratch_dma, GFP_KERNEL);
	if (!edu->scratch)
		return -ENOMEM;

	edu->pdev = pdev;
	mutex_init(&edu->lock);
	pci_set_drvdata(pdev, edu);
	iob = edu;
	iob_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("ctl", 0200, iob_dir, NULL, &iob_ctl_fops);
	debugfs_create_file("result", 0400, iob_dir, NULL, &iob_result_fops);
	pci_info(pdev, "iob_edu test driver bound\n");
	return 0;
}

static void iob_edu_remove(struct pci_dev *pdev)
{
	debugfs_remove_recursive(iob_dir);
	mutex_lock(&iob->lock);
	iob_free_buffer();
	iob_ll_free();
	iob_sg_free();
	mutex_unlock(&iob->lock);
	/* untrusted is the PCI core's: leave the device as we found it */
	pdev->untrusted = false;
	iob = NULL;
}

static const struct pci_device_id iob_edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, iob_edu_ids);

static struct pci_driver iob_edu_driver = {
	.name = KBUILD_MODNAME,
	.id_table = iob_edu_ids,
	.probe = iob_edu_probe,
	.remove = iob_edu_remove,
};
module_pci_driver(iob_edu_driver);

MODULE_DESCRIPTION("Test-only DMA driver for QEMU's edu device (iobounce tests)");
MODULE_LICENSE("GPL");
