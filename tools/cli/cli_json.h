/* cli_json.h — JSON output for --json, built with jansson.
 *
 * Owns: the JSON shape of snapshots, summaries and tree nodes (documented
 * in README.md "JSON output"), strings that may hold any bytes, and
 * printing one document to stdout.
 *
 * Names and paths are bytes, JSON strings are UTF-8: a value that is not
 * valid UTF-8 is written with U+FFFD for each bad byte, and the exact bytes
 * go beside it in "<key>_hex" so nothing is lost.
 */
#ifndef STRATA_TOOLS_CLI_JSON_H
#define STRATA_TOOLS_CLI_JSON_H

#include <jansson.h>

#include "store/repo.h"
#include "store/snapshot.h"
#include "store/tree.h"

/* cli_json_str — a JSON string for s (NULL → JSON null), lossy as above. */
json_t *cli_json_str(const char *s);

/* cli_json_set_name — obj[key] = s, plus obj[key + "_hex"] when s is not
 * valid UTF-8. Returns 0 or -ENOMEM. */
int cli_json_set_name(json_t *obj, const char *key, const char *s);

/* cli_json_set_requests — obj[key] = {"requests", "retries", "bytes_sent",
 * "bytes_received"}: what repo's store was asked so far (repo_backend_stats;
 * all zero for a local directory). The one shape of every command's
 * request counts (JSON.md). Returns 0 or -ENOMEM. */
int cli_json_set_requests(json_t *obj, const char *key, Repo *repo);

/* cli_json_id — 64-hex-char string for an ID. */
json_t *cli_json_id(const uint8_t id[STRATA_ID_LEN]);

/* cli_json_time — RFC 3339 UTC with nanoseconds. */
json_t *cli_json_time(int64_t time_ns);

/* cli_json_summary — every SnapshotSummary field, same names. */
json_t *cli_json_summary(const SnapshotSummary *s);

/* cli_json_snapshot — {"id","short_id","time","host","user","paths","tags",
 * "labels":{k:v},"tree","parent","summary","partial","partial_count",
 * "partial_paths"}. */
json_t *cli_json_snapshot(const Snapshot *snap);

/* cli_json_set_partial — obj["partial"] (boolean), obj["partial_count"]
 * and obj["partial_paths"]: [{"path" (and "path_hex"), "reason",
 * "detail"}] (tools/cli/doc/JSON.md "Snapshot"). Returns 0 or -ENOMEM. */
int cli_json_set_partial(json_t *obj, int partial, uint64_t count, const SnapshotPartialPath *paths, size_t n);

/* cli_json_node — one ls entry: {"path","type","mode","mode_string","size",
 * "mtime","uid","gid", "link_target" (symlinks), ...}. */
json_t *cli_json_node(const char *path, const TreeNode *node);

/* cli_json_print — write v to stdout (indented, or compact when
 * compact != 0), a newline, then drop the reference. NULL v means building
 * it ran out of memory. Returns 0 or -ENOMEM / -EIO. */
int cli_json_print(json_t *v, int compact);

#endif
