import type { QueryClient } from '@tanstack/react-query'
import { useEffect, useSyncExternalStore } from 'react'
import type { ParleyApi } from '../api/types.ts'
import { type ControllerState, TurnController } from './turn-controller.ts'

/**
 * One controller per conversation for the life of the page, so a reply keeps streaming (and
 * its snapshot keeps being saved) while the user looks at another conversation.
 */
const controllers = new Map<string, TurnController>()
let channel: BroadcastChannel | null = null

export type TabMessage =
  | { type: 'turn'; conversationId: string; turnId: string }
  | { type: 'settled'; conversationId: string }

export function getController(
  api: ParleyApi,
  queryClient: QueryClient,
  conversationId: string,
): TurnController {
  let controller = controllers.get(conversationId)
  if (!controller) {
    controller = new TurnController({
      api,
      storage: window.sessionStorage,
      conversationId,
      onTurnStarted: (turnId) => {
        void queryClient.invalidateQueries({ queryKey: ['messages', conversationId] })
        void queryClient.invalidateQueries({ queryKey: ['conversations'] })
        broadcast({ type: 'turn', conversationId, turnId })
      },
      onSettled: () => {
        void queryClient.invalidateQueries({ queryKey: ['messages', conversationId] })
        void queryClient.invalidateQueries({ queryKey: ['conversations'] })
        void queryClient.invalidateQueries({ queryKey: ['usage'] })
        broadcast({ type: 'settled', conversationId })
      },
    })
    controllers.set(conversationId, controller)
  }
  return controller
}

export function disposeControllers(): void {
  for (const controller of controllers.values()) controller.dispose()
  controllers.clear()
}

export function flushControllers(): void {
  for (const controller of controllers.values()) controller.flush()
}

export function useControllerState(controller: TurnController): ControllerState {
  return useSyncExternalStore(controller.subscribe, controller.getState)
}

function broadcast(message: TabMessage): void {
  try {
    channel ??= new BroadcastChannel('parley')
    channel.postMessage(message)
  } catch {
    // Without BroadcastChannel, other tabs still find running turns when they (re)load or refocus.
  }
}

/** Other tabs of this browser tell us when a turn starts or ends in a conversation. */
export function useTabMessages(onMessage: (message: TabMessage) => void): void {
  useEffect(() => {
    if (typeof BroadcastChannel === 'undefined') return
    const listener = new BroadcastChannel('parley')
    listener.onmessage = (event: MessageEvent<TabMessage>) => onMessage(event.data)
    return () => listener.close()
  }, [onMessage])
}
