import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';
import { errorMessage } from '../errors.js';
import type { WordList } from '../filter/filter.js';
import { SensitiveWordFilter, parseWordFile, wordProblem } from '../filter/sensitive-word-filter.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';

export interface SensitiveWordsOptions {
  file: string; // the list used until one is stored ('' = none)
  mode: WordList['mode']; // with the file's list
  pollMs: number; // how often the stored version is checked for other nodes' changes
}

/**
 * The sensitive-word list of every business node: the file's list until one is PUT, then the stored one.
 * A PUT applies at once on the node that took it and within `pollMs` on the others, which compare the
 * stored version with theirs. Versions only move forward, so a slow poll never undoes a newer PUT.
 */
export class SensitiveWords {
  readonly filter: SensitiveWordFilter;
  private version = 0; // stored version in use; 0 = the file's list
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly options: SensitiveWordsOptions,
    private readonly store: Store,
    private readonly logger: Logger,
  ) {
    this.filter = new SensitiveWordFilter({ words: this.readFile(), mode: options.mode });
  }

  /** Loads the stored list if there is one, then polls for changes. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.polling ??= this.refresh()
        .catch((err: unknown) =>
          this.logger.warn(
            { err: errorMessage(err) },
            'sensitive-word list poll failed; keeping the current one',
          ),
        )
        .finally(() => {
          this.polling = undefined;
        });
    }, this.options.pollMs);
    this.timer.unref();
  }

  get(): WordList {
    return this.filter.list;
  }

  /** Stores and applies a new list (validated by the caller: see wordProblem). */
  async put(list: WordList): Promise<WordList> {
    const version = await this.store.setSensitiveWords(list);
    this.apply(list, version);
    return this.get();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Applies the stored list when it is newer than the one in use (the poll timer calls this too). */
  async refresh(): Promise<void> {
    const version = await this.store.sensitiveWordsVersion();
    if (version <= this.version) return;
    const stored = await this.store.getSensitiveWords();
    if (stored) this.apply({ words: stored.words, mode: stored.mode }, stored.version);
  }

  private apply(list: WordList, version: number): void {
    if (version <= this.version) return;
    this.filter.replace(list);
    this.version = version;
    this.logger.info({ version, words: list.words.length, mode: list.mode }, 'sensitive-word list applied');
  }

  private readFile(): string[] {
    const { file } = this.options;
    if (file === '') return [];
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`business.sensitiveWords.file: cannot read ${file} (${errorMessage(err)})`, {
        cause: err,
      });
    }
    const words = parseWordFile(text);
    const usable = words.filter((w) => wordProblem(w) === null);
    if (usable.length < words.length) {
      const skipped = words.filter((w) => wordProblem(w) !== null).slice(0, 5);
      this.logger.warn(
        { file, skipped },
        'sensitive-word file lines skipped: no letter or digit, or too long',
      );
    }
    return usable;
  }
}
