/** A run id that sorts by time: 20261121T054735-hly4. */
export const newRunId = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..+/, '') + '-' + Math.random().toString(36).slice(2, 6);
