/* fuzz_wal_history.c — the texts wal-verify reads back from the
 * repository (store/wal/wal_timeline.h): a timeline history file
 * (wal_history_parse), a backup_label (wal_label_parse) and the STOP line
 * of a backup history file (wal_backup_stop_parse), then the
 * verdict (wal_verify_plan) over what they describe.
 *
 * Input: TIMELINE (u32 LE) || HISTORY || NUL || LABEL, or TIMELINE || TEXT
 * with no NUL, where TEXT is both (a NUL inside a history file is refused
 * anyway, so the split loses nothing).
 *
 * Properties: no crash or leak; only 0, STRATA_EFORMAT or -ENOMEM; a
 * failure leaves the output untouched; an accepted history has at least
 * one line, parents from 1 strictly increasing and below TIMELINE, switch
 * points never decreasing; an accepted label names a segment whose
 * timeline is the label's, and wal_label_segsize answers 0 or a valid
 * size at which the start LSN lies in that file; an accepted stop is a
 * segment name, a refused one leaves the output as it was. With both accepted, the
 * plan over the start segment alone runs, copies the one backup, and
 * counts it as a problem exactly when it is not ok.
 */
#include <errno.h>

#include "fuzz/fuzz.h"
#include "store/wal/wal_timeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StrataErr err = { 0, "" };
	WalHistory h, sentinel;
	WalBackupCheck b;
	uint32_t tl;
	const char *text, *ltext, *nul;
	size_t len, llen;
	int rc, hist_ok, label_ok;

	if (size < 4)
		return 0;
	tl = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
	text = ltext = (const char *)data + 4;
	len = llen = size - 4;
	if ((nul = memchr(text, '\0', len)) != NULL) {
		len = (size_t)(nul - text);
		ltext = nul + 1;
		llen = size - 4 - len - 1;
	}

	memset(&sentinel, 0xA5, sizeof sentinel);
	h = sentinel;
	rc = wal_history_parse(text, len, tl, &h, &err);
	FUZZ_ASSERT(rc == 0 || rc == STRATA_EFORMAT || rc == -ENOMEM);
	hist_ok = rc == 0;
	if (!hist_ok) {
		FUZZ_ASSERT(memcmp(&h, &sentinel, sizeof h) == 0);
		FUZZ_ASSERT(err.msg[0] != '\0');
	} else {
		FUZZ_ASSERT(h.timeline == tl && h.n >= 1);
		for (size_t i = 0; i < h.n; i++) {
			FUZZ_ASSERT(h.e[i].parent >= 1 && h.e[i].parent < tl);
			if (i) {
				FUZZ_ASSERT(h.e[i].parent > h.e[i - 1].parent);
				FUZZ_ASSERT(h.e[i].switch_lsn >= h.e[i - 1].switch_lsn);
			}
		}
	}

	memset(&b, 0, sizeof b);
	memset(&b.label, 0xA5, sizeof b.label);
	{
		WalBackupLabel before = b.label;
		rc = wal_label_parse(ltext, llen, &b.label, &err);
		FUZZ_ASSERT(rc == 0 || rc == STRATA_EFORMAT);
		label_ok = rc == 0;
		if (!label_ok)
			FUZZ_ASSERT(memcmp(&before, &b.label, sizeof before) == 0);
	}
	{
		char stop[WAL_NAME_MAX + 1], before[WAL_NAME_MAX + 1];
		int kind;
		memset(stop, 0x5A, sizeof stop);
		memcpy(before, stop, sizeof stop);
		rc = wal_backup_stop_parse(ltext, llen, stop, &err);
		FUZZ_ASSERT(rc == 0 || rc == STRATA_EFORMAT);
		if (rc == 0)
			FUZZ_ASSERT(wal_name_parse(stop, &kind, NULL) == 0 && kind == WAL_SEGMENT);
		else
			FUZZ_ASSERT(memcmp(stop, before, sizeof stop) == 0);
		if (rc == 0 && label_ok) {
			memcpy(b.label.stop, stop, sizeof stop);
			b.label.has_stop = 1;
		}
	}
	if (label_ok) {
		int kind;
		uint32_t stl;
		uint64_t segsize = wal_label_segsize(&b.label), segno;
		FUZZ_ASSERT(wal_name_parse(b.label.start, &kind, &stl) == 0 && kind == WAL_SEGMENT);
		FUZZ_ASSERT(stl == b.label.timeline);
		if (segsize) {
			FUZZ_ASSERT(wal_segsize_ok(segsize));
			FUZZ_ASSERT(wal_segno(b.label.start, segsize, &segno) == 0 && segno == b.label.start_lsn / segsize);
		}
		b.label_ok = 1;
	}
	if (hist_ok && label_ok) {
		char names[2][WAL_NAME_MAX + 1];
		WalVerifyReport *r = NULL;
		size_t n = 0;
		snprintf(names[n++], sizeof names[0], "%s", b.label.start);
		if (tl > 0 && tl < 0xFFFFFFFFu)
			snprintf(names[n++], sizeof names[0], "%08X.history", (unsigned)tl);
		if (n == 2 && strcmp(names[0], names[1]) > 0) {
			char t[WAL_NAME_MAX + 1];
			memcpy(t, names[0], sizeof t);
			memcpy(names[0], names[1], sizeof t);
			memcpy(names[1], t, sizeof t);
		}
		rc = wal_verify_plan(16u << 20, (const char (*)[WAL_NAME_MAX + 1])names, n, &h, 1, &b, 1, &r, &err);
		FUZZ_ASSERT(rc == 0 || rc == -ENOMEM);
		if (rc == 0) {
			FUZZ_ASSERT(r->nbackups == 1);
			FUZZ_ASSERT(r->problems >= (uint64_t)!r->backups[0].ok);
			for (size_t i = 0; i < r->nranges; i++)
				FUZZ_ASSERT(r->ranges[i].missing <= r->ranges[i].segments);
			wal_verify_report_free(r);
		}
	}
	if (hist_ok)
		wal_history_free(&h);
	return 0;
}
