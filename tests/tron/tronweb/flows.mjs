// Stock TronWeb (from the npm registry, unmodified) driven against the devnet, one flow a run:
//
//   node flows.mjs <TronGrid base URL> <private key hex> <flow> [args...]
//
// Prints one JSON object on stdout: {"ok": true, ...what the flow saw} or {"ok": false, "error"}.
// Every HTTP exchange goes to stderr as a JSON line ({"http": ...}) so a failing test shows what
// TronWeb asked and what it was answered. tests/tron/test_devnet_tronweb.py runs this.
import { TronWeb } from 'tronweb';

const HTTP_TIMEOUT_MS = 10_000; // TronWeb's default is 30 s: a hang should fail the test sooner
const WAIT_TIMEOUT_MS = 20_000;
const POLL_MS = 100;
const FEE_LIMIT = 100_000_000; // 100 TRX, as wallets set for a USDT transfer

const [url, privateKey, flow, ...args] = process.argv.slice(2);

// fullHost puts the full node, the solidity node and the event server at the devnet's base URL;
// nothing else is reached.
const tronWeb = new TronWeb({ fullHost: url, privateKey });
for (const provider of [tronWeb.fullNode, tronWeb.solidityNode, tronWeb.eventServer]) {
    provider.instance.defaults.timeout = HTTP_TIMEOUT_MS;
    logExchanges(provider.instance);
}
const me = tronWeb.defaultAddress.base58;

function logExchanges(axios) {
    const line = (entry) => process.stderr.write(JSON.stringify({ http: entry }) + '\n');
    axios.interceptors.request.use((config) => {
        line({ method: config.method, path: config.url, params: config.params, body: config.data });
        return config;
    });
    axios.interceptors.response.use(
        (response) => {
            line({ path: response.config.url, status: response.status, response: response.data });
            return response;
        },
        (error) => {
            line({ path: error.config?.url, status: error.response?.status, error: error.message });
            return Promise.reject(error);
        }
    );
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Poll /wallet/gettransactioninfobyid until the transaction is in a block, as wallets do.
async function waitForInfo(txid) {
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    while (Date.now() < deadline) {
        const info = await tronWeb.trx.getUnconfirmedTransactionInfo(txid);
        if (info && Object.keys(info).length) return info;
        await sleep(POLL_MS);
    }
    throw new Error(`transaction ${txid} not in a block after ${WAIT_TIMEOUT_MS} ms`);
}

// Sign with the key TronWeb was built with, broadcast, and wait for the transaction's block.
async function signSendWait(transaction) {
    const signed = await tronWeb.trx.sign(transaction);
    const broadcast = await tronWeb.trx.sendRawTransaction(signed);
    if (!broadcast.result) {
        const message = broadcast.message ? tronWeb.toUtf8(broadcast.message) : '';
        throw new Error(`broadcast refused: ${broadcast.code} ${message}`);
    }
    const info = await waitForInfo(signed.txID);
    const found = await tronWeb.trx.getTransaction(signed.txID);
    return { txid: signed.txID, broadcast: { ...broadcast, transaction: undefined }, info, found };
}

const flows = {
    // TRX balance and account, confirmed (walletsolidity) and unconfirmed (wallet).
    async balance(address = me) {
        return {
            address,
            balance: await tronWeb.trx.getBalance(address),
            unconfirmed_balance: await tronWeb.trx.getUnconfirmedBalance(address),
            account: await tronWeb.trx.getAccount(address),
            unconfirmed_account: await tronWeb.trx.getUnconfirmedAccount(address),
            bandwidth: await tronWeb.trx.getBandwidth(address),
            resources: await tronWeb.trx.getAccountResources(address),
        };
    },

    // transactionBuilder.sendTrx -> trx.sign -> trx.sendRawTransaction -> wait for its info.
    async send_trx(to, amount) {
        const transaction = await tronWeb.transactionBuilder.sendTrx(to, Number(amount), me);
        return signSendWait(transaction);
    },

    // A fresh address (TronWeb's own key generation) activated by its first TRX.
    async activate(amount) {
        const fresh = await tronWeb.createAccount();
        const to = fresh.address.base58;
        const before = await tronWeb.trx.getUnconfirmedAccount(to);
        const sent = await flows.send_trx(to, amount);
        const after = await tronWeb.trx.getUnconfirmedAccount(to);
        return { address: to, account_before: before, account_after: after, ...sent };
    },

    // TRC-20: the ABI from the node, the token's metadata, balanceOf, then transfer().send().
    async trc20(contractAddress, to, amount) {
        const token = await tronWeb.contract().at(contractAddress);
        const metadata = {
            name: await token.name().call(),
            symbol: await token.symbol().call(),
            decimals: Number(await token.decimals().call()),
        };
        const balanceOf = async (address) => (await token.balanceOf(address).call()).toString();
        const before = { owner: await balanceOf(me), to: await balanceOf(to) };
        const txid = await token.transfer(to, amount).send({ feeLimit: FEE_LIMIT });
        const info = await waitForInfo(txid);
        const after = { owner: await balanceOf(me), to: await balanceOf(to) };
        const functions = token.abi.filter((entry) => String(entry.type).toLowerCase() === 'function');
        return { ...metadata, abi: functions.map((entry) => entry.name), before, txid, info, after };
    },

    // What wallets read besides: the contract's info, and the energy a transfer would burn.
    async trc20_reads(contractAddress, to, amount) {
        const parameters = [
            { type: 'address', value: to },
            { type: 'uint256', value: amount },
        ];
        const estimate = await tronWeb.transactionBuilder.estimateEnergy(
            contractAddress, 'transfer(address,uint256)', {}, parameters, me
        );
        const constant = await tronWeb.transactionBuilder.triggerConstantContract(
            contractAddress, 'transfer(address,uint256)', {}, parameters, me
        );
        return {
            contract_info: await tronWeb.trx.getContractInfo(contractAddress),
            estimate,
            constant_energy_used: constant.energy_used,
        };
    },

    // The node, its blocks and prices as explorers and wallets read them, and the events.
    async chain(blockNumber, contractAddress, txid) {
        const number = Number(blockNumber);
        const block = await tronWeb.trx.getBlock(number);
        await tronWeb.getFullnodeVersion();
        const events = await tronWeb.event.getEventsByContractAddress(contractAddress, {
            eventName: 'Transfer',
            limit: 20,
        });
        return {
            node_version: tronWeb.fullnodeVersion,
            head: (await tronWeb.trx.getCurrentBlock()).block_header.raw_data.number,
            solid: (await tronWeb.trx.getConfirmedCurrentBlock()).block_header.raw_data.number,
            block_id: block.blockID,
            by_hash: (await tronWeb.trx.getBlockByHash(block.blockID)).blockID,
            range: (await tronWeb.trx.getBlockRange(number, number + 2)).map((b) => b.blockID),
            transactions: (await tronWeb.trx.getTransactionsFromBlock(number)).map((t) => t.txID),
            chain_parameters: await tronWeb.trx.getChainParameters(),
            transfer_events: events.data.filter((event) => event.transaction_id === txid),
            tx_events: (await tronWeb.event.getEventsByTransactionID(txid)).data,
            energy_prices: await tronWeb.trx.getEnergyPrices(),
            bandwidth_prices: await tronWeb.trx.getBandwidthPrices(),
        };
    },

    // Stake 2.0 through the transaction builder: freeze TRX for energy, delegate it, take it back.
    async resources(receiver, frozen, delegated) {
        const freeze = await tronWeb.transactionBuilder.freezeBalanceV2(Number(frozen), 'ENERGY', me);
        const frozeTx = await signSendWait(freeze);
        const afterFreeze = await tronWeb.trx.getUnconfirmedAccount(me);
        const delegate = await tronWeb.transactionBuilder.delegateResource(
            Number(delegated), receiver, 'ENERGY', me
        );
        const delegateTx = await signSendWait(delegate);
        const receiverResources = await tronWeb.trx.getAccountResources(receiver);
        const afterDelegate = await tronWeb.trx.getUnconfirmedAccount(me);
        const undelegate = await tronWeb.transactionBuilder.undelegateResource(
            Number(delegated), receiver, 'ENERGY', me
        );
        const undelegateTx = await signSendWait(undelegate);
        const afterUndelegate = await tronWeb.trx.getUnconfirmedAccount(me);
        return {
            freeze: frozeTx,
            account_after_freeze: afterFreeze,
            delegate: delegateTx,
            receiver_resources: receiverResources,
            account_after_delegate: afterDelegate,
            undelegate: undelegateTx,
            account_after_undelegate: afterUndelegate,
        };
    },
};

async function main() {
    if (!flows[flow]) throw new Error(`unknown flow ${flow}: one of ${Object.keys(flows).join(', ')}`);
    return { ok: true, flow, address: me, ...(await flows[flow](...args)) };
}

// An HTTP failure names its request (axios's own message does not); stacks are cut short.
function describe(error) {
    const request = error?.config ? `${error.config.method} ${error.config.url}: ` : '';
    const text = String(error?.stack || error).split('\n').slice(0, 6).join('\n');
    return request + text;
}

main()
    .catch((error) => ({ ok: false, flow, address: me, error: describe(error) }))
    .then((result) => {
        process.stdout.write(JSON.stringify(result) + '\n');
        process.exitCode = result.ok ? 0 : 1;
    });
