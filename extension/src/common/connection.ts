/** The server process as the client sees it (the model's own state is in ServerStatus). */
export type ConnectionState = 'starting' | 'running' | 'stopped' | 'failed';
