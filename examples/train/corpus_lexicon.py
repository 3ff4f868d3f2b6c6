"""Phrase lexicons for corpus.py: Mandarin (simplified), English and Malay chat phrases by topic.

Entries of a pool are separated by `|`. `{n}` is a noun of the topic (possibly in another
language, which is how switching inside a clause happens); `{place}`, `{brand}`, `{price}`,
`{time}`, `{clock}`, `{dur}`, `{quick}`, `{num}` are filled from the pools at the bottom.
English pools hold English only; a Latin word that also occurs in an English pool (or in
SHARED_EN) is labelled `en` even inside a Malay phrase ("app ni best gila" -> en ms en ms).
Per topic: `noun`; `pos` / `neg` evaluations (predicates: "so good", "不好吃", "tak sedap");
`xpos` / `xneg` experience clauses; `neu` questions, plans, facts.
"""

TOPICS = {
    "food": {
        "noun": {
            "en": "burger | fried chicken | pizza | cheesecake | iced latte | steak | sushi | ramen | waffle | milkshake | dim sum | croissant | salted egg chicken | ice cream | fish and chips",
            "zh": "火锅 | 炒饭 | 拉面 | 烤鸭 | 小笼包 | 炸鸡 | 蛋糕 | 榴莲 | 肉骨茶 | 海南鸡饭 | 云吞面 | 咖喱面 | 麻辣烫 | 叉烧饭 | 酸菜鱼 | 烧烤",
            "ms": "nasi lemak | roti canai | mee goreng | nasi ayam | teh tarik | char kuey teow | satay | rendang | laksa | cendol | nasi kandar | ayam goreng | mee kari | roti bakar | kuih | nasi kerabu",
        },
        "pos": {
            "en": "super tasty | really delicious | legit the best | so yummy | perfectly cooked | super fresh | not too sweet, just right | crispy and juicy | addictive | insanely good | full of flavour",
            "zh": "好好吃 | 太好吃了 | 真的超好吃 | 一点都不腻 | 味道刚刚好 | 好香 | 分量超大 | 不贵又好吃 | 比想象中好吃 | 超级新鲜 | 好吃到哭 | 一点都不难吃",
            "ms": "sedap gila | sedap sangat | tak muak langsung | rasa dia power | sedap nak mati | manis cukup-cukup | tak mahal pun | boleh tahan sedap | memang kaw | panas lagi | fresh gila | rangup gila",
        },
        "neg": {
            "en": "too salty | so bland | super oily | cold and soggy | overpriced | not fresh at all | not worth the price | way too sweet | disgusting | tasteless | not as good as before | burnt | honestly not good",
            "zh": "太咸了 | 不好吃 | 很难吃 | 太油了 | 一点味道都没有 | 又贵又难吃 | 不新鲜 | 没有以前好吃 | 太甜了 | 分量太少 | 冷冰冰的 | 难吃到爆",
            "ms": "tak sedap | masin gila | tawar je | berminyak sangat | mahal tapi tak sedap | tak fresh langsung | dah sejuk | manis sangat | sikit sangat | tak macam dulu | basi | tak sedap langsung",
        },
        "xpos": {
            "en": "finished the whole thing in 5 minutes | got a huge portion for only {price} | the uncle even gave us extra | queued {dur} but it was worth it | my kids loved it | the sauce is next level | still thinking about it",
            "zh": "一个人吃完了一整份 | 排了{dur}的队也值得 | 老板还送了饮料 | 只要{price}超划算 | 我妈也说好吃 | 酱料绝了 | 到现在还在想",
            "ms": "habis licin sepinggan | beratur {dur} pun berbaloi | pakcik tu bagi lebih | harga {price} je | anak-anak suka sangat | kuah dia pekat | sambal dia padu",
        },
        "xneg": {
            "en": "waited {dur} for cold food | found a hair in my {n} | paid {price} for this | the portion got smaller again | had a stomach ache after | they forgot my drink | the staff didn't even say sorry",
            "zh": "等了{dur}结果是冷的 | {n}里面还有头发 | 花了{price}就这 | 分量越来越少 | 吃完拉肚子 | 饮料都忘了给 | 服务员态度超差",
            "ms": "tunggu {dur} dapat makanan sejuk | ada rambut dalam {n} | bayar {price} untuk benda ni | makin sikit portion dia | sakit perut lepas makan | air pun lupa bagi | staff muka masam je",
        },
        "neu": {
            "en": "anyone tried the {n} at {place}? | where to get {n} near {place}? | is the {n} here halal? | what time does the {n} stall open? | planning to try {n} this weekend | the {n} stall moved to {place} | how much is the {n} now?",
            "zh": "有人吃过{place}的{n}吗？ | {place}哪里有{n}？ | 这家是清真的吗？ | 那个{n}档口几点开？ | 周末想去吃{n} | 那家{n}搬到{place}了 | {n}现在多少钱？",
            "ms": "ada sesiapa pernah cuba {n} kat {place}? | kat mana nak cari {n} sedap dekat {place}? | kedai ni halal ke? | gerai {n} tu buka pukul berapa? | hujung minggu ni nak cuba {n} | gerai {n} dah pindah ke {place} | {n} sekarang berapa harga?",
        },
    },
    "delivery": {
        "noun": {
            "en": "delivery | rider | parcel | order | courier | tracking | shipping | package",
            "zh": "外卖 | 快递 | 包裹 | 骑手 | 配送 | 物流 | 订单",
            "ms": "penghantaran | barang | bungkusan | pesanan | posmen | abang rider",
        },
        "pos": {
            "en": "super fast | right on time | so quick | faster than expected | well packed | still hot when it arrived",
            "zh": "好快 | 超准时 | 包装得很好 | 比预计还快 | 到的时候还是热的 | 速度绝了",
            "ms": "laju gila | sampai awal | cepat sangat | bungkus kemas | sampai on time | cepat gila",
        },
        "neg": {
            "en": "so slow | late again | completely lost | damaged | stuck for days | nowhere to be found",
            "zh": "太慢了 | 又迟到了 | 不见了 | 被压坏了 | 卡了好几天 | 一直没更新 | 慢得要死",
            "ms": "lambat gila | lewat lagi | hilang entah ke mana | rosak semua | tersangkut berhari-hari | tak sampai-sampai | lembap sangat",
        },
        "xpos": {
            "en": "arrived in {quick} | the rider was super polite | got it the next day | the rider even called to check | tracking was accurate the whole way",
            "zh": "{quick}就到了 | 骑手超有礼貌 | 第二天就收到了 | 骑手还打电话确认 | 物流信息很准",
            "ms": "{quick} dah sampai | rider tu sopan gila | esok terus dapat | abang rider siap call dulu | tracking tepat sangat",
        },
        "xneg": {
            "en": "waited {dur} and it's still not here | the rider cancelled my order | the box was wet and crushed | tracking hasn't moved since monday | they marked it delivered but nothing came | paid {price} for shipping",
            "zh": "等了{dur}还没到 | 骑手直接取消了订单 | 箱子又湿又烂 | 物流信息三天没动 | 显示已送达但根本没收到 | 运费{price}还这么慢",
            "ms": "dah tunggu {dur} tapi tak sampai lagi | rider cancel order aku | kotak basah dan penyek | tracking tak gerak sejak isnin | status delivered tapi barang takde | bayar shipping {price} tapi lambat",
        },
        "neu": {
            "en": "my parcel should arrive {time} | does anyone know if {brand} delivers to {place}? | what's the delivery fee to {place}? | ordered just now, tracking number below | can the rider leave it at the guardhouse?",
            "zh": "包裹应该{time}到 | 有人知道{brand}送{place}吗？ | 送到{place}运费多少？ | 刚下单，单号在下面 | 骑手可以放在门口吗？",
            "ms": "parcel aku patut sampai {time} | ada sesiapa tahu {brand} hantar ke {place} tak? | caj penghantaran ke {place} berapa? | baru order tadi, tracking number kat bawah | rider boleh tinggal kat pondok guard tak?",
        },
    },
    "shopping": {
        "noun": {
            "en": "dress | sneakers | handbag | jacket | outfit | watch | backpack | skincare set | perfume | hoodie",
            "zh": "衣服 | 鞋子 | 包包 | 外套 | 裙子 | 护肤品 | 香水 | 手表 | 背包",
            "ms": "baju | kasut | beg tangan | tudung | seluar | baju raya | jam tangan | kain | minyak wangi",
        },
        "pos": {
            "en": "such a good deal | super comfy | so cute | exactly like the picture | great quality for the price | cheaper than in store | fits perfectly",
            "zh": "超划算 | 好舒服 | 好可爱 | 和图片一模一样 | 质量很好 | 比店里便宜 | 尺寸刚好 | 性价比超高",
            "ms": "murah gila | selesa sangat | comel gila | sama macam gambar | kualiti power | lagi murah dari kedai | saiz ngam-ngam | lawa sangat",
        },
        "neg": {
            "en": "nothing like the picture | cheap quality | falling apart already | way too small | a total scam | overpriced for what it is | the wrong colour",
            "zh": "和图片完全不一样 | 质量好差 | 才穿一次就坏了 | 太小了 | 被骗了 | 根本不值这个价 | 颜色都错了",
            "ms": "langsung tak sama dengan gambar | kualiti murah | dah koyak | kecil sangat | kena tipu | mahal tapi tak berbaloi | warna salah",
        },
        "xpos": {
            "en": "got it for only {price} | bought two more for my sister | the seller threw in a free gift | used a voucher and saved {price} | it's already my favourite",
            "zh": "只花了{price} | 又给我姐买了两件 | 卖家还送了小礼物 | 用了优惠券省了{price} | 已经是我的最爱了",
            "ms": "dapat harga {price} je | beli dua lagi untuk kakak | seller bagi hadiah free | guna baucar jimat {price} | dah jadi favourite aku",
        },
        "xneg": {
            "en": "paid {price} for this | the seller stopped replying | the refund is still pending after {dur} | the stitching came off on day one | they sent me the wrong size",
            "zh": "花了{price}就买到这个 | 卖家不回消息了 | 退款{dur}了还没到 | 第一天线就掉了 | 寄错尺码了",
            "ms": "bayar {price} untuk benda ni | seller dah tak reply | refund dah {dur} tak masuk lagi | hari pertama jahitan dah tercabut | dia hantar saiz salah",
        },
        "neu": {
            "en": "anyone knows if {brand} has a sale {time}? | is this {n} available in size M? | which colour should i get? | how long does {brand} usually take to ship? | the {n} is restocking {time}",
            "zh": "有人知道{brand}{time}有没有打折？ | 这个{n}有M码吗？ | 买哪个颜色好？ | {brand}一般几天发货？ | {n}{time}补货",
            "ms": "ada sesiapa tahu {brand} ada sale {time}? | {n} ni ada saiz M tak? | patut ambil warna apa? | {brand} biasanya berapa hari nak pos? | {n} restock {time}",
        },
    },
    "apps": {
        "noun": {
            "en": "app | update | new feature | dark mode | login page | e-wallet | interface | new version",
            "zh": "软件 | 新功能 | 界面 | 更新 | 这个版本 | 小程序 | 通知",
            "ms": "aplikasi | ciri baru | versi baru | kemas kini | paparan | dompet digital",
        },
        "pos": {
            "en": "so smooth | super easy to use | actually useful | really clean | way faster now | so convenient | bug free so far",
            "zh": "很好用 | 超级流畅 | 方便多了 | 界面很干净 | 快了很多 | 超实用 | 一点都不卡",
            "ms": "senang guna | lancar je | memang berguna | kemas sangat | senang gila | tak lag langsung",
        },
        "neg": {
            "en": "so laggy | full of bugs | keeps crashing | way too slow | so confusing | full of ads",
            "zh": "太卡了 | 全是bug | 一直闪退 | 好难用 | 广告太多 | 越更新越烂",
            "ms": "lag gila | banyak bug | asyik crash | susah nak guna | iklan banyak sangat | makin update makin teruk",
        },
        "xpos": {
            "en": "setup took less than a minute | they finally fixed the login issue | the new update is so much faster | i use it every single day now | it remembers everything for me",
            "zh": "一分钟就设置好了 | 终于修好登录问题了 | 新版本快了好多 | 我现在每天都在用 | 它什么都帮我记住了",
            "ms": "setup tak sampai seminit | akhirnya diorang fix masalah login | update baru laju gila | sekarang hari-hari aku guna | semua benda dia ingatkan",
        },
        "xneg": {
            "en": "it logged me out {num} times today | lost all my data after the update | can't even open it since yesterday | it drains my battery so fast | they charge {price} for basic features now",
            "zh": "今天被登出了{num}次 | 更新后数据全没了 | 从昨天开始就打不开 | 超级耗电 | 基本功能都要收{price}",
            "ms": "hari ni dah kena logout {num} kali | update terus data hilang | dari semalam tak boleh buka | makan bateri gila | fungsi basic pun nak caj {price}",
        },
        "neu": {
            "en": "how do i turn off notifications on {brand}? | is {brand} down right now? | the new update is out {time} | anyone using the {n} yet? | where's the settings page in the new version?",
            "zh": "{brand}的通知怎么关？ | {brand}现在是不是挂了？ | 新版本{time}上线 | 有人用过{n}了吗？ | 新版本的设置在哪里？",
            "ms": "macam mana nak off notification {brand}? | {brand} down ke sekarang? | update baru keluar {time} | ada sesiapa dah guna {n}? | setting kat mana dalam versi baru?",
        },
    },
    "phones": {
        "noun": {
            "en": "phone | battery | camera | screen | charger | new iPhone | laptop | tablet | power bank",
            "zh": "手机 | 电池 | 相机 | 屏幕 | 充电器 | 新手机 | 耳机 | 电脑 | 平板",
            "ms": "telefon | bateri | kamera | skrin | pengecas | telefon baru | komputer riba | fon",
        },
        "pos": {
            "en": "crazy good | super fast | beautiful | built really well | lasts all day | the best i've ever had",
            "zh": "拍照超清楚 | 很耐用 | 续航超强 | 好漂亮 | 速度很快 | 手感很好 | 值这个价",
            "ms": "tahan lama | laju sangat | jelas gila | tahan seharian | berbaloi beli | padu gila",
        },
        "neg": {
            "en": "overheating all the time | dead after a year | so blurry | super fragile | dies by noon | not worth the upgrade | a downgrade honestly",
            "zh": "一直发烫 | 用了一年就坏了 | 拍照好模糊 | 一摔就碎 | 中午就没电了 | 不值得升级 | 一直死机",
            "ms": "panas sangat | setahun dah rosak | kabur gila | senang pecah | tengah hari dah habis bateri | tak berbaloi upgrade | asyik hang",
        },
        "xpos": {
            "en": "the battery lasts two days | photos at night look amazing | got it for {price} during the sale | switched from {brand} and no regrets | my mom can use it easily",
            "zh": "电池能用两天 | 夜拍超好看 | 打折时{price}买的 | 从{brand}换过来不后悔 | 我妈都会用",
            "ms": "bateri tahan dua hari | gambar malam cantik gila | beli masa sale {price} je | tukar dari {brand} tak menyesal | mak aku pun reti guna",
        },
        "xneg": {
            "en": "the screen cracked after one drop | it restarts by itself every day | repair costs {price}, more than a new one | the warranty doesn't cover anything | charging takes {dur}",
            "zh": "掉了一次屏幕就裂了 | 每天自己重启 | 修理要{price}比新的还贵 | 保修什么都不包 | 充电要{dur}",
            "ms": "jatuh sekali skrin terus retak | hari-hari restart sendiri | repair {price} lagi mahal dari baru | warranty tak cover apa pun | cas ambil masa {dur}",
        },
        "neu": {
            "en": "which phone should i get under {price}? | does the {n} support 5G? | the new {n} launches {time} | any shop in {place} that fixes screens? | selling my old {n}, dm if interested",
            "zh": "{price}以内买什么手机好？ | {n}支持5G吗？ | 新{n}{time}发布 | {place}哪里可以修屏幕？ | 出二手{n}，有兴趣私聊",
            "ms": "bawah {price} patut beli fon apa? | {n} ni support 5G tak? | {n} baru lancar {time} | kedai mana kat {place} boleh repair skrin? | jual {n} lama, pm kalau berminat",
        },
    },
    "travel": {
        "noun": {
            "en": "trip | hotel | flight | beach | airport | road trip | resort | itinerary | staycation",
            "zh": "旅行 | 酒店 | 航班 | 海边 | 机场 | 民宿 | 行程 | 自由行",
            "ms": "percutian | penginapan | penerbangan | pantai | lapangan terbang | pulau | cuti-cuti | balik kampung",
        },
        "pos": {
            "en": "so relaxing | absolutely beautiful | worth every cent | super clean | way better than the photos | so peaceful | a dream",
            "zh": "太美了 | 超级放松 | 超干净 | 比照片还好看 | 很值得 | 风景绝了 | 好舒服",
            "ms": "cantik gila | tenang sangat | bersih gila | lagi cantik dari gambar | seronok gila | rehat cukup-cukup",
        },
        "neg": {
            "en": "a nightmare | so dirty | delayed for hours | nothing like the photos | way too crowded | a total rip-off | exhausting",
            "zh": "简直是噩梦 | 好脏 | 延误了好久 | 跟照片完全不一样 | 人太多了 | 坑人 | 累死了",
            "ms": "macam mimpi ngeri | kotor gila | delay berjam-jam | tak sama macam gambar | sesak gila | cekik darah | penat gila",
        },
        "xpos": {
            "en": "the view from our room was unreal | the staff upgraded us for free | the flight landed {dur} early | we found the best seafood by the beach | already planning the next trip",
            "zh": "房间的景色太美了 | 前台免费帮我们升级 | 航班提早{dur}到 | 在海边吃到超好吃的海鲜 | 已经在计划下一次了",
            "ms": "pemandangan dari bilik memang cantik | staff upgrade bilik free | flight sampai awal {dur} | jumpa seafood paling sedap tepi pantai | dah plan trip seterusnya",
        },
        "xneg": {
            "en": "the flight got delayed {dur} | they lost my luggage | the room smelled like smoke | paid {price} a night for this | the aircon wasn't working",
            "zh": "航班延误了{dur} | 行李被弄丢了 | 房间一股烟味 | 一晚{price}就这样 | 空调坏了",
            "ms": "flight delay {dur} | beg aku hilang | bilik bau rokok | {price} semalam untuk ni | aircond rosak",
        },
        "neu": {
            "en": "going to {place} {time}, any tips? | is {place} crowded during the holidays? | how much is a grab from the airport to {place}? | booking a hotel in {place} for {num} nights | my flight leaves at {clock}",
            "zh": "{time}去{place}，有什么推荐吗？ | 假期的时候{place}人多吗？ | 从机场到{place}打车多少钱？ | 在{place}订了{num}晚酒店 | 航班{clock}起飞",
            "ms": "nak pergi {place} {time}, ada tips? | {place} sesak tak masa cuti? | grab dari airport ke {place} berapa? | tempah hotel kat {place} {num} malam | flight aku {clock}",
        },
    },
    "work": {
        "noun": {
            "en": "meeting | boss | deadline | new job | project | office | salary | team | interview | workload",
            "zh": "会议 | 老板 | 新工作 | 项目 | 公司 | 工资 | 同事 | 面试 | 加班",
            "ms": "kerja baru | bos | mesyuarat | gaji | ofis | rakan sekerja | projek | temuduga | kerja",
        },
        "pos": {
            "en": "really chill | super supportive | surprisingly fun | so rewarding | finally done | going really well | actually fair",
            "zh": "很轻松 | 超级好 | 很有成就感 | 终于搞定了 | 很顺利 | 同事都很好 | 很nice",
            "ms": "santai je | baik gila | seronok sangat | akhirnya siap | berjalan lancar | memang sporting | okay je",
        },
        "neg": {
            "en": "so toxic | exhausting | a mess | way too much | so unfair | draining me | pointless",
            "zh": "好累 | 太多了 | 一团糟 | 好不公平 | 没意义 | 压力好大 | 烦死了",
            "ms": "toksik gila | serabut | banyak sangat | tak adil langsung | buat stress | tak guna | memenatkan",
        },
        "xpos": {
            "en": "got a raise this month | my boss let us leave early | the client loved our pitch | finished everything before {clock} | got the offer letter today",
            "zh": "这个月加薪了 | 老板让我们早点下班 | 客户很喜欢我们的方案 | {clock}之前全部做完了 | 今天拿到offer了",
            "ms": "bulan ni dapat naik gaji | bos bagi balik awal | client suka gila idea kitorang | siap semua sebelum {clock} | hari ni dapat offer letter",
        },
        "xneg": {
            "en": "another meeting that could have been an email | worked until {clock} again | they cut our bonus | my boss called me on a sunday | no raise for {num} years",
            "zh": "又是一个没意义的会 | 又加班到{clock} | 奖金被砍了 | 老板星期天还打电话 | {num}年没加薪",
            "ms": "meeting lagi yang tak perlu | kerja sampai {clock} lagi | bonus kena potong | bos call hari ahad | {num} tahun tak naik gaji",
        },
        "neu": {
            "en": "the meeting moved to {clock} | anyone hiring in {place}? | is it normal to get {num} days of annual leave? | working from home {time} | submitting the report {time}",
            "zh": "会议改到{clock} | {place}有公司在招人吗？ | 一年{num}天年假正常吗？ | {time}在家办公 | {time}交报告",
            "ms": "mesyuarat tukar ke {clock} | ada company kat {place} tengah cari orang? | cuti tahunan {num} hari normal ke? | kerja dari rumah {time} | hantar report {time}",
        },
    },
    "school": {
        "noun": {
            "en": "exam | lecturer | assignment | class | group project | online class | teacher | homework | final exam",
            "zh": "考试 | 老师 | 作业 | 课 | 小组作业 | 网课 | 期末考 | 成绩",
            "ms": "peperiksaan | cikgu | tugasan | kelas | kerja kumpulan | pensyarah | keputusan | kerja rumah",
        },
        "pos": {
            "en": "easier than expected | so interesting | really helpful | actually fun | super clear",
            "zh": "比想象中简单 | 好有趣 | 很有帮助 | 讲得很清楚 | 超好玩",
            "ms": "senang je | menarik gila | banyak membantu | terang sangat | okay la",
        },
        "neg": {
            "en": "impossible | so boring | way too hard | so unfair | a waste of time",
            "zh": "太难了 | 好无聊 | 根本听不懂 | 是噩梦 | 浪费时间",
            "ms": "susah gila | bosan gila | tak faham langsung | macam neraka | buang masa je",
        },
        "xpos": {
            "en": "got an A for the final | passed everything this sem | the lecturer gave us extra time | finished the assignment {time} | my groupmates actually did their part",
            "zh": "期末拿了A | 这学期全部及格 | 老师多给了我们时间 | {time}就把作业写完了 | 组员都很给力",
            "ms": "dapat A untuk final | lulus semua sem ni | pensyarah bagi masa lebih | siap assignment {time} | member group semua buat kerja",
        },
        "xneg": {
            "en": "studied all night and still failed | the exam was {dur} long | my groupmates did nothing | the lecturer changed the deadline again | the wifi died during my online exam",
            "zh": "熬夜复习还是挂了 | 考试考了{dur} | 组员什么都不做 | 老师又改deadline了 | 网课考试的时候网断了",
            "ms": "belajar satu malam tapi gagal juga | exam {dur} panjang | member group tak buat apa-apa | pensyarah tukar deadline lagi | wifi putus masa online exam",
        },
        "neu": {
            "en": "the exam starts at {clock} | anyone has last year's paper? | which elective should i take? | class is cancelled {time} | submitting the assignment before {clock}",
            "zh": "考试{clock}开始 | 有人有去年的考卷吗？ | 选修课选哪个好？ | {time}的课取消了 | {clock}前交作业",
            "ms": "exam mula {clock} | ada sesiapa ada kertas tahun lepas? | elektif mana patut ambil? | kelas {time} batal | hantar tugasan sebelum {clock}",
        },
    },
    "weather": {
        "noun": {
            "en": "weather | rain | heat | haze | sunset | breeze",
            "zh": "天气 | 雨 | 太阳 | 雾霾 | 晚霞 | 风",
            "ms": "cuaca | hujan | panas | jerebu | matahari terbenam | angin",
        },
        "pos": {
            "en": "so nice today | perfect for a walk | finally cooling down | gorgeous | just right",
            "zh": "今天好舒服 | 太适合散步了 | 终于凉快了 | 好美 | 刚刚好",
            "ms": "nyaman sangat hari ni | sesuai untuk jalan-jalan | akhirnya sejuk sikit | ngam-ngam",
        },
        "neg": {
            "en": "unbearable | way too hot | crazy | so gloomy",
            "zh": "热死了 | 太热了 | 好闷 | 太可怕了 | 一直下雨烦死了",
            "ms": "panas gila | tak tahan | suram je | tak berhenti-henti",
        },
        "xpos": {
            "en": "the sky looks amazing right now | perfect day for the beach | got to watch the sunset with my friends | no rain for once",
            "zh": "天空现在超美 | 很适合去海边 | 和朋友一起看了日落 | 难得没下雨",
            "ms": "langit cantik gila sekarang | hari sesuai pergi pantai | dapat tengok sunset dengan kawan-kawan | jarang tak hujan",
        },
        "xneg": {
            "en": "my whole street flooded again | stuck in the rain for {dur} | the haze is making me cough | the power went out because of the storm | sweating just walking to the car",
            "zh": "整条街又淹水了 | 被雨困了{dur} | 雾霾搞得我一直咳嗽 | 暴风雨停电了 | 走到车上就满身汗",
            "ms": "satu jalan banjir lagi | tersangkut hujan {dur} | jerebu buat aku batuk | blackout sebab ribut | jalan ke kereta pun dah berpeluh",
        },
        "neu": {
            "en": "heavy rain expected {time} | is it raining in {place} now? | bring an umbrella {time} | the haze index is {num}0 today | it's {num}0 degrees outside",
            "zh": "{time}会下大雨 | {place}现在下雨吗？ | {time}记得带伞 | 今天空气指数{num}0 | 外面{num}0度",
            "ms": "hujan lebat dijangka {time} | {place} hujan ke sekarang? | bawa payung {time} | indeks jerebu {num}0 hari ni | luar {num}0 darjah",
        },
    },
    "movies": {
        "noun": {
            "en": "movie | ending | series | new season | soundtrack | trailer | plot | finale | cinema",
            "zh": "电影 | 结局 | 这部剧 | 新一季 | 配乐 | 预告片 | 剧情 | 电影院",
            "ms": "filem | cerita | drama | pengakhiran | lagu tema | babak akhir | wayang",
        },
        "pos": {
            "en": "a masterpiece | so good i cried | worth the hype | beautifully shot | gripping | hilarious",
            "zh": "太好看了 | 看哭了 | 值得一看 | 拍得好美 | 被低估了 | 超好笑 | 神作",
            "ms": "sampai menangis | memang berbaloi tengok | cantik sangat | kelakar gila | memang kena dengan jiwa",
        },
        "neg": {
            "en": "so boring | overhyped | way too long | so cringe | predictable | a letdown",
            "zh": "好无聊 | 烂片 | 名不副实 | 太长了 | 好尴尬 | 一点都不好看 | 看到睡着",
            "ms": "bosan gila | merepek | overrated | panjang sangat | cringe gila | mengarut",
        },
        "xpos": {
            "en": "watched it twice already | the whole cinema was clapping | that plot twist got me | can't stop thinking about the ending | binge watched the whole season in one night",
            "zh": "已经看了两遍 | 全场都在鼓掌 | 那个反转太绝了 | 结局一直在我脑里 | 一个晚上追完了整季",
            "ms": "dah tengok dua kali | satu panggung tepuk tangan | plot twist tu gila | asyik teringat ending dia | habiskan satu season semalaman",
        },
        "xneg": {
            "en": "fell asleep halfway | paid {price} for the tickets | the ending made no sense | walked out after {dur} | they ruined the book",
            "zh": "看到一半睡着了 | 花了{price}买票看这个 | 结局莫名其妙 | {dur}就走人了 | 原著被毁了",
            "ms": "tertidur separuh jalan | bayar tiket {price} untuk ni | ending tak masuk akal | keluar lepas {dur} | rosakkan novel dia",
        },
        "neu": {
            "en": "the new season drops {time} | anyone wants to catch a movie {time}? | is it showing in {place}? | tickets are {price} each | what should i watch on {brand}?",
            "zh": "新一季{time}上线 | {time}有人想去看电影吗？ | {place}有上映吗？ | 票{price}一张 | {brand}上有什么好看的？",
            "ms": "season baru keluar {time} | ada sesiapa nak tengok wayang {time}? | tayang kat {place} tak? | tiket {price} seorang | patut tengok apa kat {brand}?",
        },
    },
    "games": {
        "noun": {
            "en": "game | new patch | ranked mode | new character | server | event | battle pass",
            "zh": "游戏 | 新版本 | 排位 | 新角色 | 服务器 | 活动 | 队友 | 皮肤",
            "ms": "permainan | watak baru | perlawanan | geng main | acara baru",
        },
        "pos": {
            "en": "so addictive | super fun | actually balanced | insane | worth the grind | really generous | so satisfying",
            "zh": "太好玩了 | 超上头 | 很平衡 | 爽爆了 | 良心 | 画面好美 | 福利好多",
            "ms": "syok gila | ketagih dah | seimbang | gempak gila | murah hati",
        },
        "neg": {
            "en": "pay to win | so unbalanced | broken | full of hackers | unplayable | such a grind",
            "zh": "氪金太严重 | 太不平衡了 | 全是外挂 | 卡成狗 | 根本玩不了 | 肝到吐 | 太坑了",
            "ms": "tak seimbang | penuh hacker | lag teruk | tak boleh main langsung | kedekut gila",
        },
        "xpos": {
            "en": "finally hit mythic rank | got the skin on my first pull | my team carried me all night | the new map is beautiful | played {dur} straight with no lag",
            "zh": "终于上王者了 | 第一抽就出了 | 队友带飞 | 新地图超美 | 连玩了{dur}都不卡",
            "ms": "akhirnya naik mythic | first pull terus dapat skin | geng carry aku semalaman | map baru cantik gila | main {dur} tak lag langsung",
        },
        "xneg": {
            "en": "lost {num} games in a row | the server went down during the event | spent {price} and got nothing | my teammate went afk again | got banned for no reason",
            "zh": "连输{num}把 | 活动的时候服务器崩了 | 充了{price}什么都没抽到 | 队友又挂机了 | 莫名其妙被封号",
            "ms": "kalah {num} kali berturut-turut | server down masa event | habis {price} satu apa pun tak dapat | geng main afk lagi | kena ban tanpa sebab",
        },
        "neu": {
            "en": "the new patch drops {time} | anyone wants to play {time}? | which character should i pick? | server maintenance from {clock} | looking for {num} more players",
            "zh": "新版本{time}更新 | {time}有人一起玩吗？ | 该练哪个角色？ | {clock}开始维护 | 还差{num}个人",
            "ms": "patch baru keluar {time} | ada sesiapa nak main {time}? | patut pilih watak mana? | server maintenance dari {clock} | cari {num} orang lagi",
        },
    },
    "service": {
        "noun": {
            "en": "customer service | support team | hotline | live chat | refund process | bank | staff | manager",
            "zh": "客服 | 售后 | 热线 | 在线客服 | 退款流程 | 银行 | 店员 | 经理",
            "ms": "khidmat pelanggan | pekerja | kaunter | talian | pengurus | pegawai",
        },
        "pos": {
            "en": "super helpful | so patient | really quick to respond | so professional | incredibly kind",
            "zh": "超有耐心 | 回复很快 | 很专业 | 态度超好 | 很负责",
            "ms": "membantu sangat | sabar gila | cepat balas | profesional | baik hati sangat",
        },
        "neg": {
            "en": "so rude | impossible to reach | painfully slow | clueless",
            "zh": "态度好差 | 一点用都没有 | 根本联系不上 | 慢死了 | 什么都不懂",
            "ms": "kurang ajar | tak membantu langsung | susah nak contact | blur je",
        },
        "xpos": {
            "en": "they solved it in {quick} | got my refund the same day | the staff followed up the next morning | they even apologised and gave a voucher | the manager called to make sure everything was fine",
            "zh": "{quick}就解决了 | 当天就退款了 | 第二天早上还跟进 | 还道歉送了优惠券 | 经理亲自打电话确认",
            "ms": "{quick} dah settle | refund masuk hari sama | staff follow up esok pagi | siap minta maaf bagi baucar | pengurus call pastikan semua okay",
        },
        "xneg": {
            "en": "on hold for {dur} | they hung up on me twice | still waiting for my refund of {price} | the bot keeps sending me the same reply | nobody replied to my email for {dur}",
            "zh": "等了{dur}都没人接 | 挂了我两次电话 | {price}的退款还没到 | 机器人一直回同一句 | 邮件{dur}没人回",
            "ms": "kena hold {dur} | dia letak telefon dua kali | refund {price} tak masuk lagi | bot balas benda sama | email {dur} tak berbalas",
        },
        "neu": {
            "en": "what's the hotline number for {brand}? | does {brand} have a counter in {place}? | how long does a refund usually take? | emailed them {time}, waiting for a reply | is the live chat available on weekends?",
            "zh": "{brand}的客服电话是多少？ | {place}有{brand}的柜台吗？ | 退款一般要多久？ | {time}发了邮件，等回复 | 周末有在线客服吗？",
            "ms": "nombor hotline {brand} berapa? | {brand} ada kaunter kat {place} tak? | refund biasanya ambil masa berapa lama? | dah email {time}, tunggu balasan | live chat ada hujung minggu tak?",
        },
    },
    "friends": {
        "noun": {
            "en": "gathering | birthday party | group chat | karaoke night | hangout | reunion | weekend plan",
            "zh": "聚会 | 生日派对 | 群聊 | 唱K | 同学会 | 周末计划",
            "ms": "lepak | majlis hari jadi | geng | jalan-jalan | perjumpaan",
        },
        "pos": {
            "en": "so much fun | the best night | exactly what i needed | so wholesome",
            "zh": "好开心 | 超治愈 | 笑死我了 | 很温暖",
            "ms": "memang kena | kelakar sangat | sweet sangat | seronok tak ingat",
        },
        "neg": {
            "en": "so awkward | a disaster | so fake | cancelled again",
            "zh": "好尴尬 | 好假 | 又取消了 | 没意思",
            "ms": "janggal gila | kacau bilau | fake gila | batal lagi",
        },
        "xpos": {
            "en": "we laughed until {clock} | my friends surprised me with a cake | haven't seen them in {num} years | we stayed up talking all night | they remembered my birthday",
            "zh": "我们笑到{clock} | 朋友给我准备了蛋糕惊喜 | {num}年没见了 | 聊了一整晚 | 他们记得我的生日",
            "ms": "gelak sampai {clock} | kawan-kawan buat surprise kek | dah {num} tahun tak jumpa | borak sampai pagi | diorang ingat birthday aku",
        },
        "xneg": {
            "en": "nobody showed up | they left me on read for {dur} | they forgot my birthday again | i paid {price} and didn't even eat | they planned everything without me",
            "zh": "一个人都没来 | 已读不回{dur} | 又忘了我生日 | 我付了{price}还没吃到 | 他们背着我计划好了",
            "ms": "sorang pun tak datang | bluetick {dur} | lupa birthday aku lagi | split bill aku kena bayar {price} | diorang plan semua tanpa aku",
        },
        "neu": {
            "en": "anyone free {time}? | where should we go for dinner? | karaoke at {place} {time}? | who's coming to the gathering? | let's meet at {place} at {clock}",
            "zh": "{time}有空吗？ | 晚餐去哪里吃？ | {time}去{place}唱K？ | 聚会谁会来？ | {clock}在{place}见",
            "ms": "ada siapa free {time}? | dinner nak pergi mana? | karaoke kat {place} {time}? | siapa nak datang lepak? | jumpa kat {place} {clock}",
        },
    },
    "family": {
        "noun": {
            "en": "family dinner | family trip | reunion dinner | weekend with the kids | home-cooked meal | birthday lunch",
            "zh": "家庭聚餐 | 团圆饭 | 家庭旅行 | 周末陪孩子 | 妈妈做的菜 | 母亲节午餐",
            "ms": "makan malam keluarga | rumah terbuka | cuti dengan keluarga | masakan mak | hari raya",
        },
        "pos": {
            "en": "so heartwarming | precious | the best part of my week | so comforting",
            "zh": "好温馨 | 太幸福了 | 很珍贵 | 一周最开心的时候 | 好暖",
            "ms": "bahagia sangat | sempurna | berharga sangat | paling best minggu ni",
        },
        "neg": {
            "en": "so stressful | full of arguments | awkward",
            "zh": "压力好大 | 又吵架了 | 好累",
            "ms": "huru-hara | gaduh lagi | janggal | penat gila",
        },
        "xpos": {
            "en": "my mom cooked all my favourites | the kids had so much fun | grandma was so happy to see everyone | we finally got a family photo | my dad laughed the whole night",
            "zh": "妈妈煮了我最爱吃的 | 孩子们玩得好开心 | 奶奶看到大家好高兴 | 终于拍了全家福 | 爸爸笑了一整晚",
            "ms": "mak masak semua lauk kegemaran aku | budak-budak seronok sangat | nenek gembira jumpa semua | akhirnya dapat gambar satu keluarga | ayah gelak satu malam",
        },
        "xneg": {
            "en": "relatives asked about my salary again | stuck in traffic for {dur} going back | my parents fought the whole trip | the kids were sick all week | had to cook for {num}0 people alone",
            "zh": "亲戚又问我工资 | 回家塞车塞了{dur} | 爸妈整个旅程都在吵 | 孩子病了一整个星期 | 一个人煮{num}0个人的饭",
            "ms": "saudara tanya pasal gaji lagi | jem teruk {dur} nak balik kampung | mak ayah gaduh sepanjang trip | anak sakit seminggu | masak untuk {num}0 orang sorang-sorang",
        },
        "neu": {
            "en": "going back to my hometown {time} | what should i get my mom for her birthday? | dinner at my parents place {time} | anyone knows a family restaurant in {place}? | booking a hotel for {num} people",
            "zh": "{time}回老家 | 妈妈生日送什么好？ | {time}去爸妈家吃饭 | {place}有适合一家人的餐厅吗？ | 订{num}个人的酒店",
            "ms": "balik kampung {time} | nak bagi hadiah apa untuk hari jadi mak? | makan malam rumah mak ayah {time} | ada tak restoran keluarga kat {place}? | tempah hotel untuk {num} orang",
        },
    },
}

TOPIC_BRANDS = {"food": "food", "delivery": "shop", "shopping": "shop", "apps": "app", "phones": "phone", "travel": "travel", "work": "app", "school": "app", "weather": "app", "movies": "stream", "games": "game", "service": "telco", "friends": "food", "family": "travel"}  # which BRANDS pool a topic's {brand} uses

# Evaluations that fit any topic.
GENERIC = {
    "pos": {
        "en": "amazing | so good | really nice | not bad at all | awesome | the best | worth it | super solid | a game changer | better than expected | pretty decent actually | so underrated | perfect | legit | not as bad as people say",
        "zh": "真的很好 | 太棒了 | 超赞 | 还不错 | 很满意 | 没得挑 | 绝了 | 一级棒 | 比我想象中好 | 值得 | 真香 | 好到爆 | 没有想象中那么差",
        "ms": "best gila | memang terbaik | mantap | power gila | tak teruk pun | boleh tahan | puas hati | berbaloi sangat | padu | memang gempak | syok gila | terbaik la | tak rugi pun",
    },
    "neg": {
        "en": "terrible | so bad | not good at all | a waste of money | the worst | so disappointing | useless | not worth it | a joke | trash | ridiculous | so frustrating | not what i expected | not even close to good",
        "zh": "太差了 | 好烂 | 很失望 | 不怎么样 | 浪费钱 | 垃圾 | 太离谱了 | 一点都不好 | 超级差 | 让人失望 | 不值得 | 烂透了 | 没有想象中好",
        "ms": "teruk gila | hampeh | mengecewakan | tak best langsung | buang duit je | menyampah | sampah | tak berbaloi | teruk sangat | hancur | tak guna langsung | lembap gila | tak okay langsung",
    },
}

# Standalone sentiment-bearing closers.
CLOSERS = {
    "pos": {
        "en": "highly recommend | 10/10 would recommend | will come back again | love it so much | made my day | can't complain | no regrets | best decision ever | so happy with it | thank you so much",
        "zh": "强烈推荐 | 下次还会再来 | 太爱了 | 心情超好 | 推荐给大家 | 不后悔 | 五星好评 | 感动 | 开心死了 | 谢谢你们",
        "ms": "memang recommended | confirm datang lagi | sayang gila | puas hati sangat | tak menyesal | terima kasih banyak | rezeki hari ni | gembira sangat | syukur sangat",
    },
    "neg": {
        "en": "never again | so disappointed | what a joke | not recommended | waste of my time | i want a refund | done with this | can't believe this | so annoyed right now | lesson learned",
        "zh": "再也不来了 | 气死我了 | 不推荐 | 差评 | 退钱 | 再也不买了 | 心累 | 太失望了 | 浪费时间 | 我真的会谢",
        "ms": "tak nak datang lagi | menyesal gila | rugi duit je | geram betul | tak payah beli | serik dah | buang masa | sakit hati | nak refund | malas nak cakap",
    },
}

# Neutral lead-ins for opinions (the sentiment comes from the rest of the sentence).
CONTEXT = {
    "en": "went to {place} yesterday | tried the {n} for the first time | got this from {brand} | finally tried it | just got back from {place} | bought this last week | been using it for {dur} now | my friend recommended this | update after {dur}",
    "zh": "昨天去了{place} | 第一次试{n} | 在{brand}买的 | 终于试了 | 刚从{place}回来 | 上个星期买的 | 用了{dur}了 | 朋友推荐的 | 用了{dur}来更新一下",
    "ms": "semalam pergi {place} | first time cuba {n} | beli dari {brand} | akhirnya cuba jugak | baru balik dari {place} | beli minggu lepas | dah guna {dur} | kawan recommend | update lepas {dur}",
}

# Neutral clauses that fit any topic.
GENERIC_NEUTRAL = {
    "en": "just saw this | sharing for those who asked | anyone going to {place} {time}? | reminder: {brand} sale starts {time} | posting here in case anyone needs it | link below | does anyone know the price? | dm me for details | will update again later | quick question | not sure if it's still available",
    "zh": "分享一下 | 有人{time}去{place}吗？ | 提醒一下{brand}{time}开始打折 | 链接在下面 | 有人知道价格吗？ | 私信我 | 等下再更新 | 请问一下 | 刚看到这个 | 不知道还有没有货",
    "ms": "share sini | ada sesiapa nak pergi {place} {time}? | ingatkan je, {brand} sale mula {time} | link kat bawah | ada sesiapa tahu harga? | pm untuk info | nanti aku update lagi | nak tanya sikit | baru nampak benda ni | tak pasti ada stok lagi ke",
}

# Subject frames: "{n}" is the topic noun.
SUBJECTS = {
    "en": "this {n} | the {n} | my {n} | the {n} here | their {n} | {n}",
    "zh": "这个{n} | {n} | 今天的{n} | 他们的{n} | 这次的{n} | 我的{n}",
    "ms": "{n} ni | {n} tu | {n} kat sini | {n} diorang | {n} hari ni",
}
COPULAS = "is | was | is honestly | is actually | is just"  # English subject + English evaluation

OPENERS = {
    "en": "honestly | tbh | ngl | guys | ok so | update: | so | real talk",
    "zh": "说真的 | 家人们 | 话说 | 我跟你说 | 其实 | 讲真",
    "ms": "weh | korang | sumpah | serius | eh | jujur cakap",
}
SLANG = {
    "pos": {"en": "lol | omg | yay | lmao | haha | yesss | woohoo | nice", "zh": "哈哈哈 | 太好了 | 开心 | 爽 | 好耶 | 好好好", "ms": "wkwk | fuh | yeay | syok | terbaik"},
    "neg": {"en": "ugh | smh | wth | bruh | seriously | omg", "zh": "无语 | 服了 | 离谱 | 唉 | 救命 | 呜呜呜 | 啊啊啊", "ms": "adoi | alamak | haih | geram | bengang | aduhai"},
    "neu": {"en": "btw | fyi | hmm | pls | thx | idk", "zh": "请问 | 求助 | 嗯嗯 | 顺便问下 | 谢谢", "ms": "tumpang tanya | weh | terima kasih | tolong"},
}
PARTICLES = {"ms": "lah | la | kan | tau | weh | sia", "zh": "啊 | 啦 | 吧 | 哦 | 嘛 | 呢"}

EMOJI = {
    "pos": "😊 😂 👍 🔥 ❤️ 😍 🥰 🤩 💯 ✨ 🙌 😋 🎉 👏 🤤 💕",
    "neg": "😭 😡 🙄 😤 💔 😩 😒 👎 🤬 😑 😞 🥲 😠 🤮",
    "neu": "🤔 📦 📍 🙏 👀 ⏰ 📢 🛒 ✈️ 📱 📝 🗓️ ☔ 🚗",
}
END = {
    "pos": "! | !! | !!! | ~ | ！ | ！！ | . | !!!!",
    "neg": "!!! | ... | 。。。 | ?? | ??? | ! | ！！！ | … | !?",
    "neu": ". | ~ | ... | 。",
}
HASHTAGS = {
    "pos": "#foodie | #sedap | #好吃 | #recommended | #happy | #worthit | #weekendvibes | #makanmakan | #blessed | #开心 | #terbaik",
    "neg": "#fail | #disappointed | #无语 | #neveragain | #geram | #ripoff | #差评 | #badservice | #kecewa | #mondayblues",
    "neu": "#promo | #sale | #info | #KL | #1111sale | #wfh | #throwback | #travel | #tips | #求推荐 | #tumpangtanya | #OOTD",
}
MENTIONS = "@amirul_92 | @meiling.tan | @shopee_my | @grabfoodmy | @jiayi_ | @syazwani | @kevinlim88 | @nurul.aina | @weiming | @aiman.h | @xiaoyu | @sarah_k"
URLS = "https://shopee.com.my/product/18273645 | https://bit.ly/3xYz9Qa | www.lazada.com.my | https://forms.gle/Q8v2ab | https://youtu.be/4kT9sd2 | www.mydeal.sg/promo | https://t.me/promo_my | https://www.instagram.com/p/Cx81k | https://maps.app.goo.gl/Xy7Hh2 | www.foodpanda.my"

# Slot pools. "other" entries are language-neutral (numbers, prices, times).
PLACES = {
    "en": "the mall | Mid Valley | Sunway Pyramid | Pavilion | Orchard Road | Jurong East | Bangsar | the airport | Changi | Bugis",
    "zh": "吉隆坡 | 槟城 | 新山 | 新加坡 | 马六甲 | 怡保 | 商场 | 机场 | 夜市 | 茨厂街",
    "ms": "Kuala Lumpur | Pulau Pinang | Johor Bahru | Melaka | Shah Alam | Kota Bharu | Ipoh | pasar malam | kedai mamak | Putrajaya | Langkawi",
}
BRANDS = {
    "shop": "Shopee | Lazada | Uniqlo | Mr DIY | IKEA | Zalora | 淘宝 | 拼多多 | 京东 | 顺丰",
    "food": "Grab | Foodpanda | McD | KFC | Starbucks | Tealive | Zus Coffee | 美团 | 饿了么 | 喜茶 | 蜜雪冰城",
    "app": "WhatsApp | Instagram | TikTok | Spotify | Telegram | Canva | 微信 | 抖音 | 小红书 | 支付宝",
    "stream": "Netflix | Disney+ | YouTube | Viu | iQIYI | 爱奇艺 | 腾讯视频 | 优酷",
    "phone": "Samsung | iPhone | Xiaomi | Oppo | Huawei | Vivo | Realme | 华为 | 小米",
    "travel": "AirAsia | Agoda | Klook | Batik Air | 携程 | 飞猪",
    "telco": "Maxis | Celcom | Unifi | Digi | Maybank | CIMB | 中国移动 | 招商银行",
    "game": "Genshin | Mobile Legends | PUBG | Valorant | Steam | 原神 | 王者荣耀 | 和平精英",
}
PRICES = {
    "other": "RM15 | RM12.90 | RM3.50 | RM199 | RM49 | $20 | S$8.50 | RM1,299 | RM2.80 | $120 | RM35 | RM9.90 | RM450",
    "en": "ten bucks | fifty dollars | twenty bucks | a hundred bucks",
    "zh": "15块 | 二十块 | 五十块 | 一百多块 | 三百块 | 两千多",
    "ms": "sepuluh ringgit | dua puluh ringgit | lima puluh ringgit | seratus ringgit",
}
TIMES = {
    "other": "3pm | 10am | 8.30pm | 9am | 12pm | 7.45am | 11pm | 2.30pm",
    "en": "tonight | tomorrow | this weekend | next week | later | on friday | tomorrow morning | next month",
    "zh": "明天 | 今晚 | 这个周末 | 下个星期 | 等一下 | 星期五 | 明天早上 | 下个月 | 下午三点 | 晚上八点",
    "ms": "esok | malam ni | hujung minggu ni | minggu depan | nanti | hari jumaat | esok pagi | bulan depan | petang ni",
}
CLOCKS = {
    "other": "3pm | 10am | 8.30pm | 11pm | 2am | 7.45am | 12am | 9.15pm",
    "en": "midnight | noon",
    "zh": "凌晨两点 | 晚上十点 | 下午三点 | 早上八点 | 半夜",
    "ms": "pukul 2 pagi | pukul 10 malam | pukul 3 petang | tengah malam | subuh",
}
DURATIONS = {
    "en": "2 hours | 45 minutes | three days | a whole week | 30 mins | an hour | two weeks | 3 months",
    "zh": "两个小时 | 半个小时 | 三天 | 一个星期 | 2个小时 | 40分钟 | 一个月 | 两个礼拜",
    "ms": "2 jam | sejam | 3 hari | seminggu | 45 minit | dua minggu | sebulan | setengah jam",
}
QUICK = {  # short durations, for "arrived in ..."
    "en": "20 minutes | 15 mins | half an hour | 10 minutes",
    "zh": "二十分钟 | 十五分钟 | 半个小时 | 10分钟",
    "ms": "20 minit | 15 minit | setengah jam | 10 minit",
}
NUMBERS = "2 | 3 | 4 | 5 | 6"

# Words used in English and Malay alike: always `en` (see the module docstring).
SHARED_EN = "ok | okay | best | lol | app | online | haha | wifi | power | free | order | update | promo | sale | link | share | refund | staff | seller | plan | trip | hotel | setting | tracking | client | bug | lag | fresh | sweet | fake | stress | sporting | confirm | recommended | recommend | normal | halal | idea"
# Words that corpus.py may stretch ("sooo", "gilaaa"); Chinese slang like 哈哈哈 or 好好好 gets its length varied.
ELONGATE = "so | good | nice | best | gila | sedap | slow | bad | lah | love | yes | yay | omg | sangat | lambat | lama | cute | happy | please | lol | haha | no | why | wow | cantik | comel | seronok | syok | penat | tired | hot | panas | sweet | fun | ugh | bosan | boring | really | super | too | mantap | teruk | mahal | murah | fast | laju | yummy | amazing | sedap | tak"
