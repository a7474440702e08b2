import { openTempStore } from '../support/store'
import { storeContract } from './store-contract'

storeContract('sqlite', async () => {
  const temp = openTempStore()
  return { store: temp.store, cleanup: temp.cleanup }
})
