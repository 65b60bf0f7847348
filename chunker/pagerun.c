/* pagerun.c — see pagerun.h; the rule is FORMAT.md §13a. */
#include "chunker/pagerun.h"

size_t
pagerun_cut(uint32_t run_len, size_t len, int at_eof)
{
	if (run_len == 0 || len == 0)
		return 0;
	if (len >= run_len)
		return run_len;
	return at_eof ? len : 0;
}
