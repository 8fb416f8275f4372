export interface Job {
  id: number;
  run(): Promise<void>;
}

export type Priority = "low" | "high";

export class Queue<T extends Job> {
  private jobs: T[] = [];

  push(job: T): number {
    this.jobs.push(job);
    return this.jobs.length;
  }
}

export enum State { Idle, Busy }
