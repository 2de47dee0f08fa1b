import { type ChatWidget, publicSettings } from '../../../core/widgets/service.js';

/** ChatWidgetDTO as the official SDK types it (Mongo-style `_id`, ISO dates). */
export function chatWidgetDto(w: ChatWidget) {
  return {
    _id: w.id,
    version: w.revision,
    chatType: w.chatType,
    name: w.name,
    locationId: w.locationId,
    deleted: w.deletedAt !== null,
    default: w.isDefault,
    settings: w.settings,
    creationSource: w.creationSource,
    updatedBy: w.updatedBy ?? undefined,
    originId: w.originId ?? undefined,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
  };
}

/** ChatWidgetListItemDTO, plus `version` so a list is enough to make a guarded update. */
export function chatWidgetListItemDto(w: ChatWidget) {
  return {
    _id: w.id,
    name: w.name,
    chatType: w.chatType,
    default: w.isDefault,
    version: w.revision,
    creationSource: w.creationSource,
    settings: w.settings,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
  };
}

/** What any visitor's browser may read: no agents' ids, no identity secret, no audit fields. */
export function publicConfigDto(w: ChatWidget) {
  return {
    _id: w.id,
    locationId: w.locationId,
    name: w.name,
    chatType: w.chatType,
    version: w.revision,
    settings: publicSettings(w.settings),
  };
}
