/** saliflow's custom search attributes, shared by workflows and clients. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const JOB_STATE = defineSearchAttributeKey('JobState', SearchAttributeType.KEYWORD);
export const JOB_SERVICE = defineSearchAttributeKey('JobService', SearchAttributeType.KEYWORD);
export const JOB_USER = defineSearchAttributeKey('JobUser', SearchAttributeType.KEYWORD);
