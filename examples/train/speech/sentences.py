"""Short everyday sentences in English, Mandarin and Malay, as data for the speech generator.

Why: synth.py turns text into labelled speech, and the aligner needs utterances of a few seconds in
each language it is trained on (en, cmn, ms). Sentences are hand-written, 3-10 words each, on
the same everyday topics in each language (greetings, errands, weather, travel, home), so no
language gets an easier domain. Mandarin is in simplified characters, segmented into words with
spaces: Chinese has no spaces, the word is the unit of the word boundaries, and segmenting here by
hand avoids a segmenter dependency. `text_of` gives the written form without those spaces.
"""
from __future__ import annotations

ENGLISH: tuple[str, ...] = (
    "Good morning, how are you today?", "I would like a cup of coffee.",
    "Please close the door behind you.", "The bus is late again this morning.",
    "Can you help me with my bag?", "We are going to the beach on Sunday.",
    "My phone battery is almost empty.", "What time does the shop open?",
    "She lives in a small house near the river.", "Turn left at the next traffic light.",
    "I forgot my keys at home.", "The weather is very nice today.",
    "Do you want to watch a movie tonight?", "He is reading a book in the garden.",
    "Let me know when you arrive.", "The children are playing in the park.",
    "Could you speak a little slower, please?", "I need to buy some bread and milk.",
    "Our train leaves at half past seven.", "Thank you very much for your help.",
    "Where is the nearest train station?", "It is raining, so take an umbrella.",
    "My brother works at the hospital.", "Please turn off the lights when you leave.",
    "We had dinner with our friends last night.", "How much does this shirt cost?",
    "I am too tired to go out.", "The meeting starts in ten minutes.",
    "Can I pay by card here?", "She sings in the morning.",
    "Set an alarm for six o'clock.", "Call me when you get home.",
    "The soup is too hot to eat.", "I usually walk to work.",
    "Do you have any questions?", "The cat is sleeping on the sofa.",
    "Please send me the report by Friday.", "Open the window, it is hot in here.",
    "We should leave before it gets dark.", "I don't understand what you mean.",
    "The music is too loud.", "My favourite colour is blue.",
    "Wash your hands before you eat.", "The store is closed on holidays.",
    "He drives a red car.", "Let's meet in front of the library.",
    "I have a headache this afternoon.", "Play some music in the kitchen.",
    "What is your name?", "The baby is finally asleep.",
    "Remind me to water the plants.", "It takes an hour to get there.",
    "Please pass me the salt.", "The office is on the third floor.",
    "I will call you back later.", "Our team won the game yesterday.",
    "She is learning to ride a bike.", "Check the weather for tomorrow.",
    "There is a bird on the roof.", "See you next week.",
)

MANDARIN: tuple[str, ...] = (
    "早上 好， 你 今天 怎么样？", "我 想 喝 一 杯 咖啡。", "请 把 门 关上。",
    "公交车 今天 又 迟到 了。", "你 能 帮 我 拿 一下 包 吗？", "我们 星期天 去 海边。",
    "我 的 手机 快 没电 了。", "商店 几点 开门？", "她 住在 河边 的 小 房子 里。",
    "在 下 一个 红绿灯 左转。", "我 把 钥匙 忘在 家里 了。", "今天 天气 很 好。",
    "你 今晚 想 看 电影 吗？", "他 在 花园 里 看书。", "你 到了 告诉 我。",
    "孩子们 在 公园 里 玩。", "请 说 慢 一点。", "我 要 买 面包 和 牛奶。",
    "我们 的 火车 七点半 出发。", "非常 感谢 你 的 帮助。", "最近 的 火车站 在 哪里？",
    "下雨 了， 带 把 伞 吧。", "我 哥哥 在 医院 工作。", "走 的 时候 请 关灯。",
    "昨晚 我们 和 朋友 一起 吃 晚饭。", "这件 衬衫 多少 钱？", "我 太 累 了， 不想 出去。",
    "会议 十 分钟 后 开始。", "这里 可以 刷卡 吗？", "她 早上 喜欢 唱歌。",
    "帮 我 定 一个 六点 的 闹钟。", "到家 了 给 我 打 电话。", "汤 太 烫 了， 不能 喝。",
    "我 平时 走路 上班。", "你们 有 什么 问题 吗？", "猫 在 沙发 上 睡觉。",
    "请 在 星期五 前 把 报告 发给 我。", "打开 窗户， 这里 太 热 了。", "我们 应该 天黑 前 离开。",
    "我 不 明白 你 的 意思。", "音乐 太 吵 了。", "我 最 喜欢 的 颜色 是 蓝色。",
    "吃饭 前 要 洗手。", "这家 商店 节假日 不 开门。", "他 开 一辆 红色 的 车。",
    "我们 在 图书馆 门口 见面 吧。", "我 今天 下午 头疼。", "在 厨房 里 放 点 音乐。",
    "你 叫 什么 名字？", "宝宝 终于 睡着 了。", "提醒 我 给 花 浇水。", "去 那里 要 一个 小时。",
    "请 把 盐 递给 我。", "办公室 在 三楼。", "我 等 一下 给 你 回 电话。",
    "我们 队 昨天 赢 了 比赛。", "她 正在 学 骑 自行车。", "查 一下 明天 的 天气。",
    "屋顶 上 有 一只 鸟。", "下 周 见。",
)

MALAY: tuple[str, ...] = (
    "Selamat pagi, apa khabar?", "Saya mahu secawan kopi panas.", "Tolong tutup pintu itu.",
    "Bas lambat lagi pagi ini.", "Boleh awak tolong saya?", "Kami akan pergi ke pantai hari Ahad.",
    "Bateri telefon saya hampir habis.", "Pukul berapa kedai itu dibuka?",
    "Dia tinggal di rumah kecil dekat sungai.", "Belok kiri di lampu isyarat seterusnya.",
    "Saya terlupa kunci di rumah.", "Cuaca sangat baik hari ini.",
    "Awak mahu menonton wayang malam ini?", "Dia sedang membaca buku di taman.",
    "Beritahu saya apabila awak sampai.", "Budak-budak sedang bermain di taman.",
    "Tolong cakap perlahan sedikit.", "Saya perlu beli roti dan susu.",
    "Kereta api kami bertolak pukul tujuh setengah.", "Terima kasih banyak atas bantuan awak.",
    "Di mana stesen kereta api yang terdekat?", "Hujan turun, bawalah payung.",
    "Abang saya bekerja di hospital.", "Tolong tutup lampu bila awak keluar.",
    "Kami makan malam bersama kawan semalam.", "Berapa harga baju ini?",
    "Saya terlalu penat untuk keluar.", "Mesyuarat bermula dalam sepuluh minit.",
    "Boleh saya bayar dengan kad?", "Dia suka menyanyi pada waktu pagi.",
    "Pasang penggera pukul enam pagi.", "Telefon saya bila awak sampai rumah.",
    "Sup ini terlalu panas untuk dimakan.", "Saya biasanya berjalan kaki ke tempat kerja.",
    "Ada apa-apa soalan?", "Kucing itu sedang tidur di atas sofa.",
    "Tolong hantar laporan itu sebelum Jumaat.", "Buka tingkap, panas sangat di sini.",
    "Kita patut pergi sebelum gelap.", "Saya tidak faham maksud awak.",
    "Muzik itu terlalu kuat.", "Warna kegemaran saya biru.", "Basuh tangan sebelum makan.",
    "Kedai itu tutup pada hari cuti.", "Dia memandu kereta merah.",
    "Jom jumpa di depan perpustakaan.", "Saya sakit kepala petang ini.",
    "Mainkan lagu di dapur.", "Siapa nama awak?", "Bayi itu akhirnya sudah tidur.",
    "Ingatkan saya untuk siram pokok.", "Perjalanan ke sana ambil masa sejam.",
    "Tolong hulurkan garam itu.", "Pejabat itu di tingkat tiga.",
    "Saya akan telefon awak nanti.", "Pasukan kami menang perlawanan semalam.",
    "Dia sedang belajar menunggang basikal.", "Semak ramalan cuaca untuk esok.",
    "Ada burung di atas bumbung.", "Jumpa lagi minggu depan.",
)

SENTENCES: dict[str, tuple[str, ...]] = {"en": ENGLISH, "cmn": MANDARIN, "ms": MALAY}


def text_of(sentence: str, lang: str) -> str:
    """The sentence as it is written: Mandarin without the word-segmenting spaces."""
    return sentence.replace(" ", "") if lang == "cmn" else sentence
