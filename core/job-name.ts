/** saliweb's frontend keeps `[A-Za-z0-9_-]` (and a random suffix); `name` is VARCHAR(40). */
export const JOB_NAME = /^[A-Za-z0-9_-]{1,40}$/;
