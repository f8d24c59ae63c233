/** Plain, timestamped progress lines on stderr (stdout stays for machine-readable output). */
export type Logger = (msg: string) => void;

export const log: Logger = (msg) => {
  if (process.env.LVS_HARNESS_QUIET) return;
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t}] ${msg}\n`);
};

export const silent: Logger = () => {};
