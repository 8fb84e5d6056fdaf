/** The floor workflow's only activity. */
export const floorActivities = {
  async nothing(): Promise<void> {},
};

export type FloorActivities = typeof floorActivities;
