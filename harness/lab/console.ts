/**
 * The lab VM reports its boot on the serial console as lines starting with "lab: "
 * (written by lab-init). This turns that log into a boot state.
 */
export interface ConsoleState {
  phase: 'booting' | 'ready' | 'failed';
  kernel?: string;
  ipvs?: boolean;
  /** the "lab: ..." lines seen, in order */
  steps: string[];
  /** the reason, when phase is failed */
  error?: string;
}

export function parseConsole(text: string): ConsoleState {
  const steps: string[] = [];
  const st: ConsoleState = { phase: 'booting', steps };
  for (const raw of text.split(/\r?\n/)) {
    const i = raw.indexOf('lab: ');
    if (i < 0) continue;
    const line = raw.slice(i + 5).trim();
    steps.push(line);
    if (line.startsWith('FATAL')) {
      st.phase = 'failed';
      st.error = line.slice(5).trim();
    } else if (line.startsWith('ready')) {
      st.phase = 'ready';
      st.kernel = line.match(/kernel=(\S+)/)?.[1];
      st.ipvs = line.match(/ipvs=(\S+)/)?.[1] === 'yes';
    } else if (line === 'ipvs loaded') st.ipvs = true;
    else if (line === 'ipvs missing') st.ipvs = false;
  }
  // a kernel panic before lab-init ever speaks
  if (st.phase === 'booting') {
    const panic = text.match(/Kernel panic - not syncing:[^\n]*/);
    if (panic) {
      st.phase = 'failed';
      st.error = panic[0].trim();
    }
  }
  return st;
}
