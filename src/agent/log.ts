/** The agent's log: one line per event on stderr, with the time and the host. */
export type Log = (line: string) => void;

export const stderrLog = (host: string): Log => (line) => {
  process.stderr.write(`${new Date().toISOString()} ${host} ${line}\n`);
};
