// The API calls of the conversation features (issue 15; API.md "Conversation
// features (second wave)"): pins, the disappearing timer, forwards and
// Favorites. Kept out of api.ts so the first load does not carry them; only
// the lazily loaded chat, Moments and Favorites chunks import this.

import { request, type Conversation, type Favorite } from './api';

const enc = encodeURIComponent;
const C = (id: string) => `/api/v1/conversations/${enc(id)}`;

export const convApi = {
  pin: (id: string, pinned: boolean) => request<unknown>('PUT', `${C(id)}/pin`, { body: { pinned } }),
  setDisappear: (id: string, disappear_after_s: number) => request<Conversation>('PATCH', C(id), { body: { disappear_after_s } }),
  forward: (from: { conversation_id: string; seqs: number[] }, to: string[], mode: 'each' | 'merged') =>
    request<{ messages: { conversation_id: string; id: string; seq: number }[] }>('POST', '/api/v1/forwards', { body: { from, to, mode } }),
};

export const favorites = {
  list: () => request<{ favorites: Favorite[] }>('GET', '/api/v1/me/favorites'),
  saveMessage: (conversation_id: string, seq: number) => request<Favorite>('POST', '/api/v1/me/favorites', { body: { conversation_id, seq } }),
  saveMoment: (moment_id: string) => request<Favorite>('POST', '/api/v1/me/favorites', { body: { moment_id } }),
  remove: (id: string) => request<void>('DELETE', `/api/v1/me/favorites/${enc(id)}`),
};
