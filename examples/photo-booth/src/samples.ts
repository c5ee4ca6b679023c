/**
 * The pictures the capture step offers in place of a camera. A real booth would upload the
 * photo to its media store and record that asset; the session only ever holds a reference.
 */

import type { MediaReference } from '@session-runtime/client'

export interface SamplePicture {
  mediaAssetId: string
  label: string
  path: string
}

export const SAMPLE_PICTURES: readonly SamplePicture[] = [
  { mediaAssetId: 'sample-sunrise', label: 'Sunrise', path: 'samples/sunrise.svg' },
  { mediaAssetId: 'sample-forest', label: 'Forest', path: 'samples/forest.svg' },
  { mediaAssetId: 'sample-harbor', label: 'Harbor', path: 'samples/harbor.svg' },
]

/** The media reference the session records: the contract wants an absolute http(s) URL. */
export function mediaReferenceFor(picture: SamplePicture): MediaReference {
  return {
    mediaAssetId: picture.mediaAssetId,
    url: new URL(`${import.meta.env.BASE_URL}${picture.path}`, window.location.origin).href,
  }
}
