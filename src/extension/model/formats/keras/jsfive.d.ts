/** The part of jsfive's (untyped) API the HDF5 reader uses. */
declare module 'jsfive' {
  export type Attrs = Record<string, unknown>;
  export class Dataset {
    readonly shape: number[];
    readonly dtype: unknown;
    readonly value: unknown;
    readonly attrs: Attrs;
  }
  export class Group {
    readonly keys: string[];
    readonly attrs: Attrs;
    get(path: string): Group | Dataset | null | undefined;
  }
  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename?: string);
  }
}
