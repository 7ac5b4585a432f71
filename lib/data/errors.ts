/** A data file that cannot be read as expected; `file` and `line` (1-based) say where. */
export class DataFormatError extends Error {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, problem: string) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'DataFormatError';
    this.file = file;
    this.line = line;
  }
}
