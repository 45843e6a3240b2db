import fs from 'node:fs/promises';
import path from 'node:path';
import { fmt } from './stats.js';

/** One printed line: `name value (details)`. */
export interface Figure {
  name: string;
  /** The ratio against the ceiling (or, for memory, MiB), median over the runs. */
  value: number;
  unit: 'ratio' | 'MiB' | 'x' | 'ms';
  /** Human-readable comparison, e.g. `intake 412 MiB/s, ceiling 452 MiB/s`. */
  detail: string;
  /** What the figure must reach, e.g. `>= 0.8`; absent when the issue sets no target. */
  target?: string;
  pass?: boolean;
  /** Every run's numbers, for the JSON file. */
  runs: Record<string, number>[];
  medians: Record<string, number>;
}

export function formatFigure(figure: Figure): string {
  const target = figure.target === undefined ? '' : `; target ${figure.target}${figure.pass === false ? ' MISSED' : ''}`;
  return `${figure.name} ${fmt(figure.value)} (${figure.detail}${target})`;
}

export class Results {
  readonly figures: Figure[] = [];
  readonly notes: string[] = [];
  private readonly startedAt = new Date();

  add(figure: Figure): void {
    this.figures.push(figure);
    console.log(formatFigure(figure));
  }

  note(text: string): void {
    this.notes.push(text);
    console.log(`# ${text}`);
  }

  async write(file: string, meta: Record<string, unknown>): Promise<void> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const body = {
      startedAt: this.startedAt.toISOString(),
      durationSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      ...meta,
      figures: this.figures,
      notes: this.notes,
    };
    await fs.writeFile(file, JSON.stringify(body, null, 2) + '\n');
  }
}
