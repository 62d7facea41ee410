/** The verified identity behind a bearer token whose session is live (current roles). */
export interface Principal {
  userId: string;
  sessionId: string;
  roles: string[];
}
