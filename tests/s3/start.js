// start.js — run the pinned @20minutes/s3rver from its CLI module; the
// published package has no bin/ entry. Arguments as for s3rver itself.
// S3 knows GLACIER_IR (since 2021), the pinned s3rver does not: added to
// its list so uploads in that class are accepted as S3 accepts them.
const S3Object = require('@20minutes/s3rver/lib/models/object')
if (!S3Object.STORAGE_CLASSES.includes('GLACIER_IR')) S3Object.STORAGE_CLASSES.push('GLACIER_IR')
require('@20minutes/s3rver/lib/cli').parseAsync().catch((e) => {
	console.error(e && e.message ? e.message : e)
	process.exit(1)
})
