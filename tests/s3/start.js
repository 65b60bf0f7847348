// start.js — run the pinned @20minutes/s3rver from its CLI module; the
// published package has no bin/ entry. Arguments as for s3rver itself.
require('@20minutes/s3rver/lib/cli').parseAsync().catch((e) => {
	console.error(e && e.message ? e.message : e)
	process.exit(1)
})
